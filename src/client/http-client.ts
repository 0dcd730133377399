import { RemoteError } from '../protocol/errors.ts'
import type { ResultRecord } from '../protocol/records/result-record.ts'
import { checkTaskId } from '../task/task-id.ts'
import { onAbort } from '../util/abort-fanout.ts'
import { monotonicNow } from '../util/clock.ts'
import { followEvents } from './event-follow.ts'
import type { EventGap, EventStreamEnded, WatchedEvent } from './event-source.ts'
import { type HttpReply, HttpTransport } from './http-transport.ts'
import type { CancelOutcome, MeshClient, ResultOptions, StoryEvents, TaskStateReply } from './mesh-client.ts'

/**
 * Longest single HTTP long poll the client makes; longer waits are several polls (fetch gives up
 * on a response whose headers take over 5 minutes).
 */
export const HTTP_POLL_MS = 60_000
/** Default wait of `result(id, { wait: true })`, ms. */
const DEFAULT_WAIT_MS = 30_000
/** Longest `watch` waits for one task's result, ms (a daemon caps one wait at 10 minutes). */
const WATCH_WAIT_MS = 10 * 60_000
/** Long polls `watch` keeps out at once. */
export const WATCH_IN_FLIGHT = 32

/** Options of {@link HttpClient}. */
export interface HttpClientOptions {
  /** The API's token (`token` in `<data-dir>/api.json`), sent as `Authorization: Bearer <token>`. */
  token?: string
  /** Where the URL came from (`--api`, `api.json`), for error messages. @defaultValue the URL */
  source?: string
  /**
   * How the caller gives the token, for the error a daemon's 401 makes when none was given (a
   * command line names its flag). @defaultValue `give the token option (the token in the daemon's api.json)`
   */
  tokenHint?: string
}

/** What the 401 error tells a library user who gave no token (see {@link HttpClientOptions.tokenHint}). */
const TOKEN_HINT = "give the token option (the token in the daemon's api.json)"

/**
 * The client of a daemon's local HTTP API (section 10 of PROTOCOL.md), with the same operations
 * as the light client. Records come as the daemon read them (it verified them; HTTP carries no
 * signature). A refusal rejects with a `RemoteError` carrying the API's error code.
 */
export class HttpClient implements MeshClient {
  private readonly base: string
  private readonly source: string
  private readonly token: string | undefined
  private readonly tokenHint: string
  /** Every request but the event stream's (kept connections: see {@link HttpTransport}). */
  private readonly transport: HttpTransport

  constructor(url: string, opts: HttpClientOptions = {}) {
    this.base = url.replace(/\/+$/, '')
    this.source = opts.source ?? url
    this.token = opts.token
    this.tokenHint = opts.tokenHint ?? TOKEN_HINT
    let parsed: URL
    try {
      parsed = new URL(this.base)
    } catch {
      throw new Error(`not a URL: ${url} (${this.source})`)
    }
    this.transport = new HttpTransport(parsed)
  }

  async submit(specs: unknown[]): Promise<string[]> {
    const body = (await this.call('POST', '/tasks', { tasks: specs })) as { ids: string[] }
    return body.ids
  }

  /**
   * Submits and waits in one request (`POST /tasks?wait=<ms>`, one round trip less than
   * {@link submit} then {@link result}): the ids, and each task's result record — `null` for a
   * task that had none within `waitMs` (at most {@link HTTP_POLL_MS}; ask {@link result} after).
   */
  async submitAndWait(
    specs: unknown[],
    waitMs: number,
  ): Promise<{ ids: string[]; results: Array<ResultRecord | null> }> {
    const wait = Math.max(1, Math.min(Math.floor(waitMs), HTTP_POLL_MS))
    return (await this.call('POST', `/tasks?wait=${wait}`, { tasks: specs })) as {
      ids: string[]
      results: Array<ResultRecord | null>
    }
  }

  async result(taskId: string, opts: ResultOptions = {}): Promise<ResultRecord | undefined> {
    const id = checkTaskId(taskId, 'result')
    const deadline = monotonicNow() + (opts.wait === true ? (opts.timeoutMs ?? DEFAULT_WAIT_MS) : 0)
    for (;;) {
      const wait = Math.max(0, Math.min(deadline - monotonicNow(), HTTP_POLL_MS))
      const query = wait > 0 ? `?wait=${wait}` : ''
      let res: HttpReply
      try {
        res = await this.send('GET', `/tasks/${encodeURIComponent(id)}${query}`, undefined, opts.signal)
      } catch (err) {
        if (opts.signal?.aborted === true) return undefined
        throw err
      }
      const body = this.parse(res, [404])
      if (res.status === 200) return body as ResultRecord
      if (res.status === 404 && (body as { code?: unknown }).code !== 'ERR_RESULT_NOT_FOUND') {
        throw new RemoteError(
          'HTTP_404',
          `${this.base} has no route GET /tasks/<id>: is it a taskmesh daemon?`,
        )
      }
      if (monotonicNow() >= deadline || opts.signal?.aborted === true) return undefined // 202: known, not done
    }
  }

  /**
   * Yields each result once, in the order of `taskIds`, with up to {@link WATCH_IN_FLIGHT} long
   * polls out at once (one at a time, 10,000 results already in took 10,000 round trips in a row).
   * A poll's error is thrown when its id's turn comes.
   */
  async *watch(taskIds: string[], signal?: AbortSignal): AsyncGenerator<ResultRecord, void, undefined> {
    const ids = [...new Set(taskIds.map((id, i) => checkTaskId(id, `watch: taskIds[${i}]`)))]
    type Polled = { record: ResultRecord | undefined } | { error: unknown }
    const polls: Array<Promise<Polled>> = []
    // the polls still out end with the watch (a caller that stops early, a throw), or with `signal`
    const stop = new AbortController()
    const unlisten = signal === undefined ? undefined : onAbort(signal, () => stop.abort(signal.reason))
    if (signal?.aborted === true) stop.abort(signal.reason)
    let next = 0
    try {
      for (;;) {
        while (next < ids.length && polls.length < WATCH_IN_FLIGHT && !stop.signal.aborted) {
          const poll = this.result(ids[next++], { wait: true, timeoutMs: WATCH_WAIT_MS, signal: stop.signal })
          polls.push(
            poll.then(
              (record) => ({ record }),
              (error: unknown) => ({ error }),
            ),
          )
        }
        const first = polls.shift()
        if (first === undefined || stop.signal.aborted) return
        const polled = await first
        if ('error' in polled) throw polled.error
        if (polled.record !== undefined) yield polled.record
      }
    } finally {
      unlisten?.()
      stop.abort()
    }
  }

  async status(): Promise<Record<string, unknown>> {
    return (await this.call('GET', '/status')) as Record<string, unknown>
  }

  async cancel(taskId: string): Promise<CancelOutcome> {
    const id = checkTaskId(taskId, 'cancel')
    return (await this.call('DELETE', `/tasks/${encodeURIComponent(id)}`)) as CancelOutcome
  }

  async state(taskId: string): Promise<TaskStateReply> {
    const id = checkTaskId(taskId, 'state')
    const body = (await this.call('GET', `/tasks/${encodeURIComponent(id)}/state`)) as TaskStateReply
    return body.reason === undefined ? { state: body.state } : { state: body.state, reason: body.reason }
  }

  async story(taskId: string): Promise<StoryEvents> {
    const id = checkTaskId(taskId, 'story')
    const body = (await this.call('GET', `/tasks/${encodeURIComponent(id)}/story`)) as { events: StoryEvents }
    return body.events
  }

  /**
   * The daemon's task events as they happen (`GET /events`), filtered by `query` (`ids`, `event`,
   * `state`: comma-separated lists), with an {@link EventGap} marker where the daemon says events
   * were lost. A stream the daemon cuts off (it fell behind) is resumed at once after its last
   * event (`Last-Event-ID`), so each event comes once, with no gap unless the daemon reports one.
   * Returns when `signal` aborts, or when the daemon ends the stream without a word; rejects with
   * {@link EventStreamEnded} when it ends it saying why (`the daemon is stopping`).
   */
  async *events(
    query: Record<string, string> = {},
    signal?: AbortSignal,
  ): AsyncGenerator<WatchedEvent | EventGap, void, undefined> {
    yield* followEvents((lastId) => this.openEvents(query, lastId, signal), this.base, signal)
  }

  /** Opens `GET /events` (resuming after `lastId`); its body, or undefined once `signal` aborted. */
  private async openEvents(
    query: Record<string, string>,
    lastId: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ReadableStream<Uint8Array> | undefined> {
    const search = new URLSearchParams(query).toString()
    const headers: Record<string, string> = { accept: 'text/event-stream' }
    if (lastId !== undefined) headers['last-event-id'] = lastId
    let res: Response
    try {
      res = await this.fetch(`/events${search === '' ? '' : `?${search}`}`, { headers, signal })
    } catch (err) {
      if (signal?.aborted === true) return undefined
      throw err
    }
    if (!res.ok || res.body === null) {
      this.parse({ status: res.status, text: await res.text() })
      throw new Error(`the daemon at ${this.base} answered GET /events with HTTP ${res.status}`)
    }
    return res.body
  }

  /** Every node the daemon hears of, with capacity and load (`GET /mesh`). */
  async mesh(): Promise<Record<string, unknown>> {
    return (await this.call('GET', '/mesh')) as Record<string, unknown>
  }

  /** One page of the tasks the daemon owns (`GET /tasks?state=&limit=&after=`). */
  async tasks(query: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const search = new URLSearchParams(query).toString()
    return (await this.call('GET', `/tasks${search === '' ? '' : `?${search}`}`)) as Record<string, unknown>
  }

  /** Closes the kept connections (a later call opens new ones). */
  async close(): Promise<void> {
    this.transport.close()
  }

  /** The event stream's request: `fetch`, whose body is read as it comes. */
  private async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    try {
      const headers = new Headers(init.headers)
      if (this.token !== undefined) headers.set('authorization', `Bearer ${this.token}`)
      return await fetch(`${this.base}${path}`, { ...init, headers })
    } catch (err) {
      if (init.signal?.aborted === true) throw err
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message
      throw this.unreachable(cause)
    }
  }

  private unreachable(cause: string): Error {
    return new Error(`cannot reach the daemon's HTTP API at ${this.base} (${this.source}): ${cause}`)
  }

  /** One request with the token and a JSON body (when given), over the kept connections. */
  private async send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<HttpReply> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`
    try {
      return await this.transport.request(method, path, {
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      })
    } catch (err) {
      if (signal?.aborted === true) throw err
      throw this.unreachable((err as Error).message)
    }
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    return this.parse(await this.send(method, path, body))
  }

  /** The JSON body of a response whose status is OK or in `accept`, else throws its error. */
  private parse(res: HttpReply, accept: number[] = []): unknown {
    const { text } = res
    let body: { error?: unknown; code?: unknown } | undefined
    try {
      body = JSON.parse(text)
    } catch {
      body = undefined
    }
    const ok = res.status >= 200 && res.status < 300
    const accepted = ok || accept.includes(res.status)
    if (accepted && body !== undefined) return body
    if (res.status === 401 && this.token === undefined) {
      throw new RemoteError(
        'ERR_UNAUTHORIZED',
        `the daemon at ${this.base} wants its API token: ${this.tokenHint}`,
      )
    }
    if (!accepted && typeof body?.error === 'string') {
      throw new RemoteError(typeof body.code === 'string' ? body.code : `HTTP_${res.status}`, body.error)
    }
    throw new Error(`the daemon at ${this.base} answered HTTP ${res.status} with a body that is not JSON`)
  }
}

import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { RemoteError } from '../client/remote-error.ts'
import type { TaskmeshClient } from '../client/taskmesh-client.ts'
import type { ResultRecord } from '../protocol/result-record.ts'
import { API_FILE, DEFAULT_DATA_DIR } from './defaults.ts'

/**
 * Longest single HTTP long poll the CLI makes; longer waits are several polls (fetch gives up
 * on a response whose headers take over 5 minutes).
 */
export const HTTP_POLL_MS = 60_000

/** Where a CLI command sends its request. */
export interface TargetOptions {
  api?: string
  peer?: string
  dataDir?: string
  /** With `peer`: the private mesh's key file. */
  swarmKey?: string
  /** With `peer`: the client's key file (created if missing), so it keeps its peer id. */
  identity?: string
}

/** The operations the CLI needs, over HTTP or over the submit protocol. */
export interface Target {
  /** Submits specs; rejects with a `RemoteError` (nothing queued) when the node refuses them. */
  submit(specs: unknown[]): Promise<string[]>
  /** One poll (`waitMs` 0) or a wait of up to `waitMs` for a task's result. */
  result(id: string, waitMs: number): Promise<ResultRecord | undefined>
  /** Calls `onResult` once per task whose result lands within `waitMs` (any order). */
  waitAll(ids: string[], waitMs: number, onResult: (record: ResultRecord) => void): Promise<void>
  status(): Promise<unknown>
  /** Cancels a task (the node forwards to its owner). */
  cancel(id: string): Promise<unknown>
  /** How a task stands (`queued`, `unschedulable`, …). */
  state(id: string): Promise<{ state: string; reason?: string }>
  /** The node's decisions about a task. */
  story(id: string): Promise<unknown[]>
  close(): Promise<void>
}

/** What `<dataDir>/api.json` holds (see `ApiInfo` in daemon.ts). */
export interface ApiFile {
  url?: string
  peerId?: string
  multiaddrs?: string[]
  pid?: number
}

/** Reads `<dataDir>/api.json`. @throws when it is missing or not JSON, saying so. */
export async function readApiFile(dataDir: string): Promise<ApiFile> {
  const file = join(dataDir, API_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        `no running daemon found: ${file} does not exist (start one with "taskmesh daemon --data-dir ${dataDir}", or pass --api or --peer)`,
      )
    }
    throw new Error(`cannot read ${file}: ${(err as Error).message}`)
  }
  try {
    const info = JSON.parse(text) as unknown
    if (typeof info !== 'object' || info === null) throw new Error('not a JSON object')
    return info as ApiFile
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}); remove it if no daemon runs`)
  }
}

class HttpTarget implements Target {
  constructor(
    private readonly base: string,
    /** Where the URL came from, for error messages. */
    private readonly source: string,
  ) {}

  async submit(specs: unknown[]): Promise<string[]> {
    const body = (await this.call('POST', '/tasks', { tasks: specs })) as { ids: string[] }
    return body.ids
  }

  async result(id: string, waitMs: number): Promise<ResultRecord | undefined> {
    const deadline = Date.now() + waitMs
    for (;;) {
      const wait = Math.max(0, Math.min(deadline - Date.now(), HTTP_POLL_MS))
      const res = await this.fetch(`/tasks/${encodeURIComponent(id)}${wait > 0 ? `?wait=${wait}` : ''}`)
      const body = await this.parse(res, [404])
      if (res.status === 202) {
        if (Date.now() >= deadline) return undefined
        continue // known, no result yet
      }
      if (res.status !== 404) return body as ResultRecord
      if ((body as { code?: unknown }).code !== 'ERR_RESULT_NOT_FOUND') {
        throw new RemoteError(
          'HTTP_404',
          `${this.base} has no route GET /tasks/<id>: is it a taskmesh daemon?`,
        )
      }
      if (Date.now() >= deadline) return undefined
    }
  }

  async waitAll(ids: string[], waitMs: number, onResult: (record: ResultRecord) => void): Promise<void> {
    const deadline = Date.now() + waitMs
    for (const id of ids) {
      const record = await this.result(id, Math.max(0, deadline - Date.now()))
      if (record !== undefined) onResult(record)
    }
  }

  async status(): Promise<unknown> {
    return this.call('GET', '/status')
  }

  async cancel(id: string): Promise<unknown> {
    return this.call('DELETE', `/tasks/${encodeURIComponent(id)}`)
  }

  async state(id: string): Promise<{ state: string; reason?: string }> {
    const res = await this.fetch(`/tasks/${encodeURIComponent(id)}`)
    const body = (await this.parse(res, [404])) as { state?: string; reason?: string }
    if (res.status === 202 && typeof body.state === 'string')
      return body as { state: string; reason?: string }
    return { state: res.status === 200 ? 'done' : 'unknown' }
  }

  async story(id: string): Promise<unknown[]> {
    const body = (await this.call('GET', `/tasks/${encodeURIComponent(id)}/story`)) as { events: unknown[] }
    return body.events
  }

  async close(): Promise<void> {}

  private async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, init)
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message
      throw new Error(`cannot reach the daemon's HTTP API at ${this.base} (${this.source}): ${cause}`)
    }
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await this.fetch(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return this.parse(res)
  }

  /** The JSON body of a response whose status is OK or in `accept`, else throws its error. */
  private async parse(res: Response, accept: number[] = []): Promise<unknown> {
    const text = await res.text()
    let body: { error?: unknown; code?: unknown } | undefined
    try {
      body = JSON.parse(text)
    } catch {
      body = undefined
    }
    const accepted = res.ok || accept.includes(res.status)
    if (accepted && body !== undefined) return body
    if (!accepted && typeof body?.error === 'string') {
      throw new RemoteError(typeof body.code === 'string' ? body.code : `HTTP_${res.status}`, body.error)
    }
    throw new Error(`the daemon at ${this.base} answered HTTP ${res.status} with a body that is not JSON`)
  }
}

class PeerTarget implements Target {
  constructor(private readonly client: TaskmeshClient) {}
  submit(specs: unknown[]): Promise<string[]> {
    return this.client.submit(specs)
  }
  result(id: string, waitMs: number): Promise<ResultRecord | undefined> {
    return waitMs > 0 ? this.client.result(id, { wait: true, timeoutMs: waitMs }) : this.client.result(id)
  }
  async waitAll(ids: string[], waitMs: number, onResult: (record: ResultRecord) => void): Promise<void> {
    const signal = AbortSignal.timeout(waitMs)
    try {
      for await (const record of this.client.watch(ids, signal)) onResult(record)
    } catch (err) {
      if (!signal.aborted) throw err
    }
  }
  status(): Promise<unknown> {
    return this.client.status()
  }
  cancel(id: string): Promise<unknown> {
    return this.client.cancel(id)
  }
  state(id: string): Promise<{ state: string; reason?: string }> {
    return this.client.state(id)
  }
  story(id: string): Promise<unknown[]> {
    return this.client.story(id)
  }
  close(): Promise<void> {
    return this.client.close()
  }
}

/** Picks the target: `--peer` (light client), else `--api`, else the daemon found in `--data-dir`. */
export async function openTarget(opts: TargetOptions): Promise<Target> {
  if (opts.peer !== undefined) {
    const { TaskmeshClient } = await import('../client/taskmesh-client.ts')
    const { readSwarmKeyFile } = await import('../node/wire/swarm-key.ts')
    const { loadOrCreateKeyFile } = await import('../node/wire/identity.ts')
    return new PeerTarget(
      await TaskmeshClient.connect(opts.peer, {
        swarmKey: opts.swarmKey === undefined ? undefined : await readSwarmKeyFile(opts.swarmKey),
        privateKey: opts.identity === undefined ? undefined : await loadOrCreateKeyFile(opts.identity),
      }),
    )
  }
  if (opts.api !== undefined) {
    let url: URL
    try {
      url = new URL(opts.api)
    } catch {
      throw new Error(`--api "${opts.api}" is not a URL (e.g. http://127.0.0.1:8080)`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`--api "${opts.api}" must be an http:// or https:// URL`)
    }
    return new HttpTarget(opts.api.replace(/\/+$/, ''), '--api')
  }
  const dataDir = resolve(opts.dataDir ?? DEFAULT_DATA_DIR)
  const file = join(dataDir, API_FILE)
  const info = await readApiFile(dataDir)
  if (typeof info.url !== 'string') {
    const peer = info.multiaddrs?.[0]
    throw new Error(
      `the daemon in ${dataDir} serves no HTTP API (started with --no-http)${peer === undefined ? '' : `; use --peer ${peer}`}`,
    )
  }
  if (typeof info.pid === 'number' && !isRunning(info.pid)) {
    throw new Error(
      `no running daemon found: ${file} names pid ${info.pid}, which is not running (a daemon that was killed leaves it behind; start one with "taskmesh daemon --data-dir ${dataDir}")`,
    )
  }
  return new HttpTarget(info.url, `from ${file}`)
}

/** True when a process with this pid exists. */
export function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

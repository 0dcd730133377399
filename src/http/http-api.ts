import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FrontDoor } from '../node/front-door.ts'
import { isWatchDoor, type WatchDoor } from '../node/watch-door.ts'
import { asSingleSpecError } from '../task/errors.ts'
import { decodePart, HttpError, idsOf, parseWait, readJson, send, sendError, taskIdOf } from './api-io.ts'
import { isLoopbackHost } from './bind-host.ts'
import { DashboardRoute } from './dashboard/dashboard-route.ts'
import {
  type ApiAddress,
  checkJsonBody,
  checkSite,
  checkToken,
  createApiToken,
  staleTokenCookies,
} from './guard.ts'
import { LongWaits, stoppingBody } from './long-waits.ts'
import type { ExtraRoutes } from './ops-routes.ts'
import { checkParams } from './query.ts'
import { createLimitedServer, type HttpConnectionLimits } from './server-limits.ts'
import { logIn, tokenInQuery } from './token-link.ts'
import { WATCH_ROUTES, WatchRoutes } from './watch-routes.ts'

export { MAX_HTTP_BODY_BYTES, MAX_HTTP_WAIT_MS } from './api-io.ts'
export {
  HTTP_HEADERS_TIMEOUT_MS,
  HTTP_KEEP_ALIVE_TIMEOUT_MS,
  HTTP_REQUEST_TIMEOUT_MS,
  type HttpConnectionLimits,
  MAX_HTTP_CONNECTIONS,
} from './server-limits.ts'

/** Default deadline of a result poll without `?wait=` (one DHT lookup), in ms. */
export const DEFAULT_HTTP_POLL_MS = 5_000

/** Options of {@link HttpApi}. */
export interface HttpApiOptions {
  /**
   * The token every request must present: `Authorization: Bearer <token>`, or on a `GET`
   * `?token=<token>` (an `EventSource` cannot send headers). @defaultValue a fresh random one
   */
  token?: string
  /**
   * How long a connection may stay silent before its request's headers are in, how long idle
   * kept-alive ones stay, how many may be open (see `createLimitedServer`).
   * @defaultValue HTTP_HEADERS_TIMEOUT_MS, HTTP_KEEP_ALIVE_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS, MAX_HTTP_CONNECTIONS
   */
  connections?: HttpConnectionLimits
  /**
   * Deadline of a result poll without `?wait=`: the DHT lookup it makes is abandoned after this
   * many ms and the answer is `404` (a node with no DHT peers would otherwise hold the request).
   * @defaultValue DEFAULT_HTTP_POLL_MS
   */
  pollMs?: number
  /**
   * More routes (e.g. `opsRoutes`: `/metrics`, `/healthz`), tried before the API's own. They are
   * served without the token when the API listens on a loopback address (a Prometheus scraper sends
   * none), with it otherwise; the Host and Origin checks apply to them alike.
   */
  routes?: ExtraRoutes
  /**
   * What the event stream, the task listing, the mesh view and the dashboard read.
   * @defaultValue the front door, when it offers them (a `TaskmeshNode` does)
   */
  watch?: WatchDoor
}

/**
 * The daemon's local HTTP API (JSON in, JSON out; errors are `{ error, code, field? }`):
 * - `POST /tasks` with one spec or `{ "tasks": [item, …] }` (items may carry `key` and name keys
 *   or task ids in `dependsOn`: a graph) → `201 { ids, keys? }`. A bad body or spec, a cycle or a
 *   dangling key → `400` whose `field` names the offending path (`body`, `tasks[2].timeoutMs`,
 *   `tasks[1].dependsOn`, …); a full queue → `503`; nothing is queued then. With `?wait=<ms>`
 *   (up to `MAX_HTTP_WAIT_MS`) the answer waits for the results too: `201 { ids, keys?, results }`,
 *   each the task's result record, or `null` when it had none within the wait (submit and wait in
 *   one request: one round trip less than `POST` and then `GET ?wait=`).
 * - `GET /tasks/<id>` → `200` the result record; `202 { taskId, state, reason?, owner? }` when the task
 *   has no result yet but is known (waiting, queued, leased, running, unschedulable); `404` when
 *   it is unknown: one lookup of at most `pollMs`, or with `?wait=<ms>` a long poll of up to
 *   `MAX_HTTP_WAIT_MS`.
 * - `DELETE /tasks/<id>` → `200 { taskId, outcome: 'cancelled' | 'finished', owner }`; `404` when
 *   no node in reach knows the task.
 * - `GET /tasks/<id>/state` → `200 { taskId, state, reason?, owner? }`: how the task stands (`unknown` when
 *   no node in reach knows it), without a DHT lookup.
 * - `GET /tasks/<id>/story` → `200 { taskId, events }`: this node's decisions about the task.
 * - `GET /status` → `200` the node's status (peers, slots, queues, counters, unschedulable tasks).
 * - `GET /events`, `GET /tasks?state=…`, `GET /mesh`: the operator's views (see `WatchRoutes`).
 * - `GET /`: the dashboard (see `DashboardRoute`); `GET /?token=<token>` is its one-time login link.
 * While the daemon stops, a submission and a wait that ends with no result get `503 ERR_STOPPING`.
 */
export class HttpApi {
  /** The token requests must present; give it to the operator only (the daemon writes it to api.json, mode 600). */
  readonly token: string
  private server: Server | undefined
  private address: ApiAddress | undefined
  private readonly pollMs: number
  private readonly watch: WatchRoutes
  private readonly dashboard = new DashboardRoute()
  private readonly waits = new LongWaits()

  constructor(
    private readonly door: FrontDoor,
    private readonly opts: HttpApiOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? DEFAULT_HTTP_POLL_MS
    this.token = opts.token ?? createApiToken()
    this.watch = new WatchRoutes(opts.watch ?? (isWatchDoor(door) ? door : undefined))
  }

  /** Requests waiting now: result reads and long polls, submissions that wait. */
  get openWaits(): number {
    return this.waits.size
  }

  /** Event streams (`GET /events`) open now. */
  get openEventStreams(): number {
    return this.watch.openStreams
  }

  /**
   * Listens on `host:port` (port 0 picks a free one); resolves with the base URL. Requests must
   * name a loopback host (or `host`) with this port in their `Host` header. Connections are
   * limited as `opts.connections` says: a silent one is closed, a long poll or an event stream is not.
   */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    if (this.server !== undefined) throw new Error('the HTTP API is listening already')
    const server = createLimitedServer((req, res) => {
      this.route(req, res).catch((err: Error) => sendError(res, err))
    }, this.opts.connections)
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'address already in use (EADDRINUSE)' : err.message
        reject(new Error(`cannot serve the HTTP API on ${host}:${port}: ${why}`, { cause: err }))
      })
      server.listen(port, host, () => resolve())
    })
    this.server = server
    const addr = server.address() as AddressInfo
    this.address = { port: addr.port, bindHost: host }
    return `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`
  }

  /**
   * The daemon begins to stop (it drains its runs): a new submission is refused with `503
   * ERR_STOPPING`; reads and open waits are served on (a wait on a run that drains gets its result).
   */
  beginStop(): void {
    this.waits.beginStop()
  }

  /**
   * Stops listening: every open wait is answered first (`503 ERR_STOPPING`, or a submission's ids
   * with the results in so far), within a second, then the event streams end and the connections
   * are cut.
   */
  async close(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server === undefined) return
    await this.waits.close()
    this.watch.close()
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeAllConnections()
    await closed
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const address = this.address as ApiAddress
    checkSite(req, address)
    const stale = staleTokenCookies(req, address.port)
    if (stale.length > 0) res.setHeader('set-cookie', stale) // an older version's: drop it
    const byQuery = tokenInQuery(req, url, this.token)
    if (byQuery && url.pathname === '/') return logIn(url, address.port, this.token, req, res)
    const routes = this.opts.routes
    const open = routes !== undefined && isLoopbackHost(address.bindHost)
    if (open && (await routes(req, res, url))) return
    if (await this.dashboard.serve(req, res, url)) return
    if (!byQuery) checkToken(req, this.token)
    if (!open && routes !== undefined && (await routes(req, res, url))) return
    const parts = url.pathname.split('/').filter((p) => p.length > 0)
    const allow = (methods: string) => {
      if (!methods.split(', ').includes(req.method ?? '')) {
        res.setHeader('allow', methods)
        throw new HttpError('ERR_METHOD_NOT_ALLOWED', `${req.method} ${url.pathname}: use ${methods}`)
      }
    }
    if (this.watch.serve(req, res, url, allow)) return
    if (parts.length === 1 && parts[0] === 'tasks') {
      allow('GET, POST')
      checkParams(url, 'POST /tasks', ['wait'])
      if (this.waits.stopping) return send(res, 503, stoppingBody())
      return this.submit(req, res, parseWait(url.searchParams.get('wait')))
    }
    if (parts.length === 2 && parts[0] === 'tasks') {
      allow('GET, DELETE')
      const id = taskIdOf(decodePart(parts[1]))
      if (req.method === 'DELETE') {
        checkParams(url, 'DELETE /tasks/<id>', [])
        return send(res, 200, await this.door.cancel(id))
      }
      checkParams(url, 'GET /tasks/<id>', ['wait'])
      return this.result(id, parseWait(url.searchParams.get('wait')), res)
    }
    if (parts.length === 3 && parts[0] === 'tasks' && parts[2] === 'story') {
      allow('GET')
      checkParams(url, 'GET /tasks/<id>/story', [])
      const id = taskIdOf(decodePart(parts[1]))
      return send(res, 200, { taskId: id, events: this.door.story(id) })
    }
    if (parts.length === 3 && parts[0] === 'tasks' && parts[2] === 'state') {
      allow('GET')
      checkParams(url, 'GET /tasks/<id>/state', [])
      const id = taskIdOf(decodePart(parts[1]))
      return send(res, 200, { taskId: id, ...(await this.door.taskState(id)) })
    }
    if (parts.length === 1 && parts[0] === 'status') {
      allow('GET')
      checkParams(url, 'GET /status', [])
      return send(res, 200, this.door.status())
    }
    throw new HttpError(
      'ERR_NOT_FOUND',
      `no route ${req.method} ${url.pathname} (routes: POST /tasks, GET|DELETE /tasks/<id>, GET /tasks/<id>/state, GET /tasks/<id>/story, GET /status, ${WATCH_ROUTES.join(', ')}, GET /)`,
    )
  }

  private async submit(req: IncomingMessage, res: ServerResponse, waitMs: number): Promise<void> {
    checkJsonBody(req)
    const body = await readJson(req)
    if (Array.isArray(body)) {
      throw new HttpError('ERR_BAD_REQUEST', 'a JSON array: send a list of tasks as {"tasks": [...]}', 'body')
    }
    const batch = typeof body === 'object' && body !== null && 'tasks' in body
    const extra = batch ? Object.keys(body).find((k) => k !== 'tasks') : undefined
    if (extra !== undefined) {
      throw new HttpError('ERR_BAD_REQUEST', `unknown key "${extra}": a batch takes only "tasks"`, extra)
    }
    const specs = batch ? (body as { tasks: unknown }).tasks : [body]
    if (!Array.isArray(specs)) {
      throw new HttpError('ERR_BAD_REQUEST', '"tasks" must be an array of task specs', 'tasks')
    }
    // a bare spec's refusals name `task.…`; a list's, even of one, `tasks[0].…`
    const named = (err: unknown) => Promise.reject(batch ? err : asSingleSpecError(err))
    if (waitMs === 0) return send(res, 201, idsOf(await this.door.submitMany(specs).catch(named)))
    // accepted whatever comes: a wait that ends (or a client that hangs up) loses no task; an
    // answer that carries every result may leave before the journal's sync and custody's answer
    const waited = await this.door
      .submitAndWait(specs, { signal: this.waits.deadline(res, waitMs) })
      .catch(named)
    if (!res.destroyed) send(res, 201, { ...idsOf(waited.handles), results: waited.results })
  }

  private async result(id: string, waitMs: number, res: ServerResponse): Promise<void> {
    const signal = this.waits.deadline(res, waitMs > 0 ? waitMs : this.pollMs)
    const record =
      waitMs > 0
        ? await this.door.waitResult(id, signal).catch(() => undefined)
        : await this.door.getResult(id, { signal }).catch(() => undefined)
    if (res.destroyed) return
    if (record === undefined && this.waits.stopping) return send(res, 503, stoppingBody(id))
    if (record === undefined) {
      const state = await this.door.taskState(id).catch(() => ({ state: 'unknown' as const }))
      // it ended between the read and the state: its record is here now
      const again = { signal: AbortSignal.timeout(this.pollMs) } // the wait's own may have ended
      const late =
        state.state === 'done' ? await this.door.getResult(id, again).catch(() => undefined) : undefined
      if (res.destroyed) return
      if (late !== undefined) return send(res, 200, late)
      if (state.state !== 'unknown') return send(res, 202, { taskId: id, ...state })
      return send(res, 404, {
        error: `no node in reach knows task ${id}, and no record of it was found`,
        code: 'ERR_RESULT_NOT_FOUND',
        field: 'id',
      })
    }
    send(res, 200, record)
  }
}

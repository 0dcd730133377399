import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  DEFAULT_LIST_LIMIT,
  isCursor,
  LISTED_STATES,
  type ListedState,
  MAX_LIST_LIMIT,
} from '../node/watch/task-list.ts'
import type { WatchDoor } from '../node/watch-door.ts'
import { EventStreams, parseEventFilter, parseResumeId } from './event-stream.ts'
import { BadQueryError, checkParams, intParam, listParam } from './query.ts'

/** The routes {@link WatchRoutes} serves, for the API's "no route" answer. */
export const WATCH_ROUTES = ['GET /tasks?state=…', 'GET /events', 'GET /mesh']

/** A route this API lacks because its node offers no operator's views. */
class NoViewsError extends Error {
  readonly code = 'ERR_NOT_FOUND'
}

function sendJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/**
 * The operator's views of the HTTP API, beside the task routes of `HttpApi`:
 * - `GET /events` → a Server-Sent Events stream of this node's task events (`data:` one JSON
 *   event `{ taskId, event, at, detail?, state? }` each), filtered by `?ids=a,b`, `?event=…` and
 *   `?state=…` (comma-separated; every filter given must match); with `Last-Event-ID` (or
 *   `?lastEventId=`) it first replays the events missed since that id (see `EventStreams`).
 * - `GET /tasks` → `{ tasks, next? }`: the tasks this node owns and the last ones that ended,
 *   oldest accepted first; `?state=queued,failed,…`, `?limit=` (1–1000, default 100), `?after=<next>`.
 * - `GET /mesh` → every node this node hears of, with capacity and load.
 * An unknown parameter or a bad filter is a `400` naming it.
 */
export class WatchRoutes {
  private readonly streams: EventStreams | undefined

  constructor(private readonly door: WatchDoor | undefined) {
    this.streams = door === undefined ? undefined : new EventStreams(door)
  }

  /** Event streams open now. */
  get openStreams(): number {
    return this.streams?.size ?? 0
  }

  /**
   * Serves `req` when its path is one of these routes (after `allow` checked the method); false for
   * any other path.
   */
  serve(req: IncomingMessage, res: ServerResponse, url: URL, allow: (methods: string) => void): boolean {
    const path = url.pathname.replace(/\/+$/, '')
    if (path !== '/events' && path !== '/mesh' && !(path === '/tasks' && req.method === 'GET')) return false
    allow('GET')
    const door = this.need()
    if (path === '/events') {
      const filter = parseEventFilter(url)
      ;(this.streams as EventStreams).serve(res, filter, parseResumeId(req, url))
    } else if (path === '/mesh') {
      checkParams(url, 'GET /mesh', [])
      sendJson(res, door.meshView())
    } else {
      sendJson(res, door.listTasks(parseListQuery(url)))
    }
    return true
  }

  /**
   * Ends the open event streams, each with `event: end` carrying `reason`.
   * @param reason - why they end. @defaultValue DEFAULT_END_REASON ("the daemon is stopping")
   */
  close(reason?: string): void {
    this.streams?.close(reason)
  }

  private need(): WatchDoor {
    if (this.door === undefined)
      throw new NoViewsError('this API serves no operator views (its node offers none)')
    return this.door
  }
}

/** Reads `GET /tasks?state=&limit=&after=`. @throws BadQueryError naming what is wrong. */
export function parseListQuery(url: URL) {
  checkParams(url, 'GET /tasks', ['state', 'limit', 'after'])
  const states = listParam(url, 'state', {
    valid: (s) => (LISTED_STATES as readonly string[]).includes(s),
    expected: `a state (${LISTED_STATES.join(', ')})`,
    max: LISTED_STATES.length,
  }) as ListedState[] | undefined
  const limit = intParam(url, 'limit', 1, MAX_LIST_LIMIT, DEFAULT_LIST_LIMIT)
  const after = url.searchParams.get('after') ?? undefined
  if (after !== undefined && !isCursor(after)) {
    throw new BadQueryError(`after must be the "next" of a page before, got "${after.slice(0, 80)}"`, 'after')
  }
  return { states, limit, after }
}

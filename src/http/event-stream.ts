import type { ServerResponse } from 'node:http'
import type { TaskEvent } from '../node/story/task-events.ts'
import { stateAfter, TASK_EVENTS } from '../node/watch/event-states.ts'
import { LISTED_STATES, type ListedState } from '../node/watch/task-list.ts'
import type { WatchDoor } from '../node/watch-door.ts'
import { isTaskId } from '../task/task-id.ts'
import { checkParams, listParam } from './query.ts'

/** Most task ids one `?ids=` filter names. */
export const MAX_FILTER_IDS = 256
/** A comment line keeps idle streams (and the proxies between) open this often, ms. */
export const HEARTBEAT_MS = 15_000
/** Bytes an event stream may fall behind its client before it is cut off (the client reconnects). */
export const MAX_UNSENT_BYTES = 1024 * 1024
/** What an `EventSource` waits before it reconnects, ms (sent as `retry:`). */
const RETRY_MS = 2_000

/** Which events a stream sends: each filter given must match (an item of its list). */
export interface EventFilter {
  ids?: Set<string>
  events?: Set<string>
  states?: Set<ListedState>
}

/** One event as the stream sends it: the task event and the task's state after it, when it changes. */
export interface StreamedEvent extends TaskEvent {
  state?: ListedState
}

/**
 * Reads the filter of `GET /events` (`ids`, `event`, `state`: comma-separated lists).
 * @throws BadQueryError naming an unknown parameter, an id that is not one, an unknown event or state.
 */
export function parseEventFilter(url: URL): EventFilter {
  checkParams(url, 'GET /events', ['ids', 'event', 'state'])
  const ids = listParam(url, 'ids', { valid: isTaskId, expected: 'a task id (a CIDv1)', max: MAX_FILTER_IDS })
  const events = listParam(url, 'event', {
    valid: (e) => Object.hasOwn(TASK_EVENTS, e),
    expected: `a task event (${Object.keys(TASK_EVENTS).join(', ')})`,
    max: Object.keys(TASK_EVENTS).length,
  })
  const states = listParam(url, 'state', {
    valid: (s) => (LISTED_STATES as readonly string[]).includes(s),
    expected: `a state (${LISTED_STATES.join(', ')})`,
    max: LISTED_STATES.length,
  })
  const filter: EventFilter = {}
  if (ids !== undefined) filter.ids = new Set(ids)
  if (events !== undefined) filter.events = new Set(events)
  if (states !== undefined) filter.states = new Set(states as ListedState[])
  return filter
}

/** True when `e` (with the state it leads to) passes `filter`. */
export function passes(filter: EventFilter, e: TaskEvent, state: ListedState | undefined): boolean {
  if (filter.ids !== undefined && !filter.ids.has(e.taskId)) return false
  if (filter.events !== undefined && !filter.events.has(e.event)) return false
  if (filter.states !== undefined && (state === undefined || !filter.states.has(state))) return false
  return true
}

/** An open stream: what it sends, and the text written to it at the end of this turn. */
interface OpenStream {
  filter: EventFilter
  pending: string
}

/**
 * The Server-Sent Events streams of a node's task events (`GET /events`): one listener on the
 * node's events while any stream is open, removed with the last; each event's state and text are
 * made once for every stream it passes, and each stream gets one write per turn of the event loop
 * (a task makes ~8 events: a write each, per stream, was a socket write and a JSON text each); a
 * stream that falls `MAX_UNSENT_BYTES` behind is cut off. One heartbeat timer for all of them,
 * running only while a stream is open.
 */
export class EventStreams {
  private readonly open = new Map<ServerResponse, OpenStream>()
  private unlisten: (() => void) | undefined
  private heartbeat: NodeJS.Timeout | undefined
  private flushing = false
  private seq = 0

  constructor(private readonly door: Pick<WatchDoor, 'onTaskEvent'>) {}

  /** Streams open now. */
  get size(): number {
    return this.open.size
  }

  /** Answers `GET /events` with a stream of the events `filter` passes, until the client goes. */
  serve(res: ServerResponse, filter: EventFilter): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    })
    res.write(`retry: ${RETRY_MS}\n: taskmesh task events\n\n`)
    this.open.set(res, { filter, pending: '' })
    this.unlisten ??= this.door.onTaskEvent((e) => this.send(e))
    this.beat()
    res.once('close', () => {
      this.open.delete(res)
      this.changed()
    })
  }

  /** Ends every open stream (the API is closing); the listener goes at once. */
  close(): void {
    for (const res of this.open.keys()) res.end()
    this.open.clear()
    this.changed()
  }

  /** Adds the event to the text of each stream it passes (made once), written at the turn's end. */
  private send(e: TaskEvent): void {
    let state: ListedState | undefined
    let judged = false
    let text: string | undefined
    for (const [res, stream] of this.open) {
      if (res.writableEnded || res.destroyed) continue // closing: its 'close' takes it out
      if (!judged) {
        state = stateAfter(e)
        judged = true
      }
      if (!passes(stream.filter, e, state)) continue
      if (text === undefined) {
        const sent: StreamedEvent = state === undefined ? e : { ...e, state }
        text = `id: ${++this.seq}\ndata: ${JSON.stringify(sent)}\n\n`
      }
      stream.pending += text
      if (stream.pending.length > MAX_UNSENT_BYTES) res.destroy()
      else if (!this.flushing) {
        this.flushing = true
        setImmediate(() => this.flush())
      }
    }
  }

  /** Writes each stream's text of this turn at once. */
  private flush(): void {
    this.flushing = false
    for (const [res, stream] of this.open) {
      if (stream.pending === '') continue
      const text = stream.pending
      stream.pending = ''
      if (res.writableEnded || res.destroyed) continue
      res.write(text)
      if (res.writableLength > MAX_UNSENT_BYTES) res.destroy()
    }
  }

  /** A stream came or went: the listener and the heartbeat run only while one is open. */
  private changed(): void {
    if (this.open.size === 0 && this.unlisten !== undefined) {
      this.unlisten()
      this.unlisten = undefined
    }
    this.beat()
  }

  /** Starts the heartbeat with the first stream, stops it with the last. */
  private beat(): void {
    if (this.open.size > 0 && this.heartbeat === undefined) {
      this.heartbeat = setInterval(() => {
        for (const res of this.open.keys()) if (!res.writableEnded && !res.destroyed) res.write(': ping\n\n')
      }, HEARTBEAT_MS)
      this.heartbeat.unref()
    } else if (this.open.size === 0 && this.heartbeat !== undefined) {
      clearInterval(this.heartbeat)
      this.heartbeat = undefined
    }
  }
}

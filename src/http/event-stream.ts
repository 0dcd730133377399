import type { ServerResponse } from 'node:http'
import type { TaskEvent } from '../node/story/task-events.ts'
import { stateAfter } from '../node/watch/event-states.ts'
import type { ListedState } from '../node/watch/task-list.ts'
import type { WatchDoor } from '../node/watch-door.ts'
import { type EventFilter, passes, passesAll } from './event-query.ts'
import { type EventId, MAX_REPLAY_BYTES, RecentEvents } from './recent-events.ts'

export {
  type EventFilter,
  MAX_FILTER_IDS,
  parseEventFilter,
  parseResumeId,
  passes,
} from './event-query.ts'

/** A comment line keeps idle streams (and the proxies between) open this often, ms. */
export const HEARTBEAT_MS = 15_000
/** Bytes an event stream may fall behind its client before it is cut off (the client reconnects). */
export const MAX_UNSENT_BYTES = 1024 * 1024
/** How long the node keeps its recent events after the last stream closed, for a reconnect, ms. */
export const REPLAY_LINGER_MS = 30_000
/** How long a stream that was cut off has to read the `cut` event before its socket goes, ms. */
export const CUT_GRACE_MS = 5_000
/** What `close()` tells the streams when given no reason. */
export const DEFAULT_END_REASON = 'the daemon is stopping'
/** What an `EventSource` waits before it reconnects, ms (sent as `retry:`). */
const RETRY_MS = 2_000
/** Most text a stream catching up on held events is written at once (then it waits for `drain`). */
const CATCH_UP_CHUNK = 64 * 1024

/** Limits of {@link EventStreams}; each defaults to the constant of its name. */
export interface EventStreamOptions {
  /** Text of recent events kept for streams that reconnect. @defaultValue MAX_REPLAY_BYTES */
  replayBytes?: number
  /** How long the events are kept after the last stream closed, ms. @defaultValue REPLAY_LINGER_MS */
  lingerMs?: number
  /** Unsent bytes at which a stream is cut off. @defaultValue MAX_UNSENT_BYTES */
  maxUnsentBytes?: number
  /** Time a cut-off stream has to read its `cut` event, ms. @defaultValue CUT_GRACE_MS */
  cutGraceMs?: number
}

/** One event as the stream sends it: the task event and the task's state after it, when it changes. */
export interface StreamedEvent extends TaskEvent {
  state?: ListedState
}

/** An open stream: what it sends, and where it is in the node's events. */
interface OpenStream {
  filter: EventFilter
  /** Text written to it at the end of this turn. */
  pending: string
  /** While `pending` holds text: the seq before its first event (all before are written or skipped). */
  written: number
  /** While it catches up on held events (it resumed after an id): the next seq to read. */
  cursor: number | undefined
}

/**
 * The Server-Sent Events streams of a node's task events (`GET /events`), as PROTOCOL.md
 * section 10 describes them. One listener on the node's events while a stream is open and for
 * `lingerMs` after the last one closed (none, and no cost, otherwise); each event is numbered
 * (`id: <run>-<seq>`, the run a random tag of this instance), its state and text made once and
 * held in {@link RecentEvents} (bounded by bytes) for a stream that reconnects with
 * `Last-Event-ID`, which is sent the held events after that id (`event: gap` first when some are
 * gone). Each live stream gets one write per turn of the event loop; a stream that falls
 * `maxUnsentBytes` behind is sent `event: cut` and ended (its socket destroyed if it does not read
 * that within `cutGraceMs`); `close()` sends `event: end`. One heartbeat timer for all streams,
 * running only while one is open.
 */
export class EventStreams {
  private readonly open = new Map<ServerResponse, OpenStream>()
  private readonly recent: RecentEvents
  private readonly lingerMs: number
  private readonly maxUnsent: number
  private readonly graceMs: number
  private unlisten: (() => void) | undefined
  private idle: NodeJS.Timeout | undefined
  private heartbeat: NodeJS.Timeout | undefined
  private flushing = false
  private cuts = 0

  constructor(
    private readonly door: Pick<WatchDoor, 'onTaskEvent'>,
    opts: EventStreamOptions = {},
  ) {
    this.recent = new RecentEvents(opts.replayBytes ?? MAX_REPLAY_BYTES)
    this.lingerMs = opts.lingerMs ?? REPLAY_LINGER_MS
    this.maxUnsent = opts.maxUnsentBytes ?? MAX_UNSENT_BYTES
    this.graceMs = opts.cutGraceMs ?? CUT_GRACE_MS
  }

  /** Streams open now (a cut-off one until its response closes). */
  get size(): number {
    return this.open.size
  }

  /** True while the node's events are listened to (a stream is open, or was within `lingerMs`). */
  get listening(): boolean {
    return this.unlisten !== undefined
  }

  /** Streams cut off so far for falling behind. */
  get cutOff(): number {
    return this.cuts
  }

  /** This instance's run tag: the part of every id before the `-`. */
  get run(): string {
    return this.recent.run
  }

  /**
   * Answers `GET /events` with a stream of the events `filter` passes, until the client goes;
   * after `resumeAfter` (its `Last-Event-ID`), first the held events it missed.
   */
  serve(res: ServerResponse, filter: EventFilter, resumeAfter?: EventId): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    })
    this.listen()
    const stream: OpenStream = { filter, pending: '', written: 0, cursor: undefined }
    let head = `retry: ${RETRY_MS}\n: taskmesh task events\n\n`
    if (resumeAfter !== undefined) {
      const resumed = this.recent.resume(resumeAfter)
      if (resumed.gap !== undefined) head += this.recent.gapText(resumed, passesAll(filter))
      if (resumed.from <= this.recent.lastSeq) stream.cursor = resumed.from
    }
    res.write(head)
    this.open.set(res, stream)
    this.beat()
    res.once('close', () => {
      if (this.open.delete(res)) this.changed()
    })
    if (stream.cursor !== undefined) this.catchUp(res, stream)
  }

  /**
   * Ends every open stream with `event: end` and `reason` (the API is closing), after the text
   * each live one was due; the listener and the held events go at once.
   */
  close(reason = DEFAULT_END_REASON): void {
    const end = `event: end\ndata: ${JSON.stringify({ reason })}\n\n`
    for (const [res, stream] of this.open) {
      if (!res.writableEnded && !res.destroyed)
        res.end(stream.cursor === undefined ? stream.pending + end : end)
    }
    this.open.clear()
    clearTimeout(this.idle)
    this.idle = undefined
    this.quiet()
    this.beat()
  }

  /** Numbers and holds the event (its text made once), and adds it to each live stream it passes. */
  private send(e: TaskEvent): void {
    const state = stateAfter(e)
    const sent: StreamedEvent = state === undefined ? e : { ...e, state }
    const held = this.recent.record(e.taskId, e.event, state, JSON.stringify(sent))
    for (const [res, stream] of this.open) {
      // catching up: it reads the event from the held ones; closing: its 'close' takes it out
      if (stream.cursor !== undefined || res.writableEnded || res.destroyed) continue
      if (!passes(stream.filter, e, state)) continue
      if (stream.pending === '') stream.written = held.seq - 1
      stream.pending += held.text
      if (stream.pending.length > this.maxUnsent)
        this.cut(res, stream, stream.pending.length + res.writableLength)
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
      if (res.writableLength > this.maxUnsent) this.cut(res, stream, res.writableLength)
    }
  }

  /**
   * Writes the held events from the stream's cursor that pass its filter, a chunk at a time as
   * the client reads them; the stream is live once it reached the newest. Cut off when the
   * events it still needs were dropped meanwhile.
   */
  private catchUp(res: ServerResponse, stream: OpenStream): void {
    while (stream.cursor !== undefined) {
      if (res.writableEnded || res.destroyed) return
      if (stream.cursor < this.recent.firstSeq) {
        const reason =
          'this stream fell behind while catching up: the node no longer holds the events it needs'
        this.cut(res, stream, undefined, reason)
        return
      }
      const last = this.recent.lastSeq
      let seq = stream.cursor
      let text = ''
      for (; seq <= last && text.length < CATCH_UP_CHUNK; seq++) {
        const held = this.recent.get(seq)
        if (held !== undefined && passes(stream.filter, held, held.state)) text += held.text
      }
      stream.cursor = seq > last ? undefined : seq
      if (text !== '' && !res.write(text) && stream.cursor !== undefined) {
        res.once('drain', () => this.catchUp(res, stream))
        return
      }
    }
  }

  /** The position the client of `stream` has everything up to: what it resumes after. */
  private position(stream: OpenStream): number {
    if (stream.cursor !== undefined) return stream.cursor - 1
    return stream.pending === '' ? this.recent.lastSeq : stream.written
  }

  /**
   * Cuts a stream off: drops its unsent text, sends `event: cut` (why, and the id to resume
   * after) and ends it; its socket goes if that is not flushed within the grace.
   */
  private cut(res: ServerResponse, stream: OpenStream, behind: number | undefined, why?: string): void {
    const lastEventId = this.recent.idOf(this.position(stream))
    stream.pending = ''
    stream.cursor = undefined
    this.cuts++
    const reason =
      why ??
      `this stream fell ${behind} bytes behind its client (the node holds at most ${this.maxUnsent} unsent)`
    res.end(`event: cut\nid: ${lastEventId}\ndata: ${JSON.stringify({ reason, lastEventId })}\n\n`)
    const grace = setTimeout(() => {
      if (!res.writableFinished) res.destroy()
    }, this.graceMs)
    grace.unref()
    res.once('close', () => clearTimeout(grace))
  }

  /** A stream opened: the listener runs (again), and stays. */
  private listen(): void {
    clearTimeout(this.idle)
    this.idle = undefined
    if (this.unlisten !== undefined) return
    this.recent.start()
    this.unlisten = this.door.onTaskEvent((e) => this.send(e))
  }

  /** A stream went: with the last, the listener stays `lingerMs` for a reconnect, then goes. */
  private changed(): void {
    if (this.open.size === 0 && this.unlisten !== undefined && this.idle === undefined) {
      if (this.lingerMs <= 0) this.quiet()
      else {
        this.idle = setTimeout(() => {
          this.idle = undefined
          this.quiet()
        }, this.lingerMs)
        this.idle.unref()
      }
    }
    this.beat()
  }

  /** No stream for a while: no listener, nothing held. */
  private quiet(): void {
    this.unlisten?.()
    this.unlisten = undefined
    this.recent.stop()
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

import { randomBytes } from 'node:crypto'
import type { ListedState } from '../node/watch/task-list.ts'

/** Characters of event text (`id:` and `data:` lines) the replay buffer holds at most. */
export const MAX_REPLAY_BYTES = 4 * 1024 * 1024
/** What a held event costs beyond its text (the entry, its strings' headers), counted in its bytes. */
const ENTRY_OVERHEAD = 64

/** A position in a node's event sequence, as an `id:` line names it: `<run>-<seq>`. */
export interface EventId {
  /** The random tag of the `EventStreams` (one per daemon start) that sent it. */
  run: string
  /** The event's number in that run (1, 2, …; a number no event has is a position too). */
  seq: number
}

const ID_FORMAT = /^([0-9a-f]{16})-(0|[1-9][0-9]{0,14})$/

/** Reads an event id (`<16 hex digits>-<seq>`); undefined when `text` is not one. */
export function parseEventId(text: string): EventId | undefined {
  const m = ID_FORMAT.exec(text)
  return m === null ? undefined : { run: m[1], seq: Number(m[2]) }
}

/** One event held for replay: what a stream's filter reads, and the text every stream is sent. */
export interface HeldEvent {
  seq: number
  taskId: string
  event: string
  state: ListedState | undefined
  /** `id: …\ndata: …\n\n`, made once. */
  text: string
}

/** What a stream that resumes after an id is sent first. */
export interface Resumption {
  /** The first seq to replay (the held events from it on that pass the filter). */
  from: number
  /** Set when events after the id are gone: why, and how many of the node's events, when known. */
  gap?: { reason: string; lost?: number }
}

/**
 * The node's recent task events as the streams sent them, numbered, for a stream that reconnects
 * with `Last-Event-ID`: kept while a stream is open or was lately (the owner starts and stops
 * it), the oldest dropped beyond `maxBytes` of text. Every event recorded gets the next seq, so
 * the seqs held are consecutive, whatever each stream's filter.
 */
export class RecentEvents {
  /** The random tag of this run's ids. */
  readonly run = randomBytes(8).toString('hex')
  private last = 0
  /** The first seq recorded since the buffer last started (events before it may be unknown). */
  private coveredFrom = 1
  private entries: HeldEvent[] = []
  private head = 0
  private bytes = 0
  private recording = false

  constructor(private readonly maxBytes = MAX_REPLAY_BYTES) {}

  /** The seq of the last event recorded (0 before the first). */
  get lastSeq(): number {
    return this.last
  }

  /** Events held now. */
  get held(): number {
    return this.entries.length - this.head
  }

  /** The `id:` value of position `seq`. */
  idOf(seq: number): string {
    return `${this.run}-${seq}`
  }

  /**
   * Starts recording (a stream opened). After a pause one seq is skipped, so that an id from
   * before the pause is known to be followed by events nobody recorded.
   */
  start(): void {
    if (this.recording) return
    this.recording = true
    if (this.last > 0) this.last++
    this.coveredFrom = this.last + 1
  }

  /** Stops recording and drops what is held (no stream was open for a while). */
  stop(): void {
    this.recording = false
    this.entries = []
    this.head = 0
    this.bytes = 0
  }

  /** Numbers an event, makes its text (`data` is its JSON) and holds it; the oldest go past the bound. */
  record(taskId: string, event: string, state: ListedState | undefined, data: string): HeldEvent {
    const seq = ++this.last
    const held: HeldEvent = { seq, taskId, event, state, text: `id: ${this.run}-${seq}\ndata: ${data}\n\n` }
    this.entries.push(held)
    this.bytes += held.text.length + ENTRY_OVERHEAD
    while (this.bytes > this.maxBytes && this.head < this.entries.length - 1) {
      this.bytes -= this.entries[this.head].text.length + ENTRY_OVERHEAD
      this.head++
    }
    // drop the array's dead head now and then: amortised O(1) per event
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head)
      this.head = 0
    }
    return held
  }

  /** The seq of the oldest event held (`lastSeq + 1` when none is). */
  get firstSeq(): number {
    return this.head < this.entries.length ? this.entries[this.head].seq : this.last + 1
  }

  /** The held event numbered `seq`, if it is still held. */
  get(seq: number): HeldEvent | undefined {
    const i = this.head + (seq - this.firstSeq)
    return i >= this.head && i < this.entries.length ? this.entries[i] : undefined
  }

  /** Where a stream resuming after `after` starts, and the gap before it when events are gone. */
  resume(after: EventId): Resumption {
    const first = this.firstSeq
    if (after.run !== this.run) {
      return { from: first, gap: { reason: 'the id is from another run of the daemon (it restarted)' } }
    }
    if (after.seq > this.last) {
      return { from: first, gap: { reason: 'the id is ahead of every event this node sent' } }
    }
    if (after.seq + 1 >= first) return { from: after.seq + 1 }
    if (after.seq + 1 >= this.coveredFrom) {
      return {
        from: first,
        gap: {
          reason: 'the stream fell behind: the node no longer holds the events after the id',
          lost: first - after.seq - 1,
        },
      }
    }
    return {
      from: first,
      gap: { reason: 'no stream was open for a while, and the node keeps no events then' },
    }
  }

  /**
   * `event: gap` for a stream resuming where events are missing: its `id` the position it resumes
   * from, its data the reason and the count, `lost` (exact) when the stream is `unfiltered`,
   * else `lostAtMost` (its filter may have passed fewer).
   */
  gapText(resumed: Resumption, unfiltered: boolean): string {
    const gap = resumed.gap ?? { reason: 'events were lost' }
    const data: { reason: string; lost?: number; lostAtMost?: number } = { reason: gap.reason }
    if (gap.lost !== undefined) {
      if (unfiltered) data.lost = gap.lost
      else data.lostAtMost = gap.lost
    }
    return `event: gap\nid: ${this.idOf(resumed.from - 1)}\ndata: ${JSON.stringify(data)}\n\n`
  }
}

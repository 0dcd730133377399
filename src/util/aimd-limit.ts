import type { ConcurrencyLimit } from './each-limited.ts'

/** Options of {@link AimdLimit}. */
export interface AimdLimitOptions {
  /** Calls in flight at first. */
  initial: number
  /** Fewest calls in flight, however many time out. */
  min: number
  /** Most calls in flight, however many answer. */
  max: number
}

/**
 * How many calls may be in flight at once, adapted as TCP adapts its congestion window: additive
 * increase (one more call after a window's worth of answers), multiplicative decrease (half as many
 * when a call runs out of time; once per window: the calls that started before a cut time out
 * together and do not cut it again). A fixed number fails under load: 32 DHT lookups in flight at
 * each of the custodians of a dead owner, in a mesh sharing one saturated event loop, all ran past
 * their deadline, sweep after sweep, where 6 at a time answered in 1.5 s. Run calls under it with
 * `eachWithin`.
 */
export class AimdLimit implements ConcurrencyLimit {
  private window: number
  /** Calls started so far: each call's ticket is its rank. */
  private started = 0
  /** The last ticket handed out when the window was last cut. */
  private cutAfter = 0

  constructor(private readonly opts: AimdLimitOptions) {
    if (!(opts.min >= 1 && opts.min <= opts.initial && opts.initial <= opts.max)) {
      throw new RangeError(
        `AimdLimit: need 1 ≤ min ≤ initial ≤ max, got ${opts.min}, ${opts.initial}, ${opts.max}`,
      )
    }
    this.window = opts.initial
  }

  /** Calls that may be in flight now. */
  get current(): number {
    return Math.floor(this.window)
  }

  /** A call starts: its ticket, to hand back to {@link timedOut}. */
  start(): number {
    return ++this.started
  }

  /** A call answered in time: the window grows by one over a window's worth of answers. */
  answered(): void {
    this.window = Math.min(this.opts.max, this.window + 1 / this.window)
  }

  /** The call of `ticket` ran out of time: the window halves, unless a cut came after it started. */
  timedOut(ticket: number): void {
    if (ticket <= this.cutAfter) return
    this.window = Math.max(this.opts.min, this.window / 2)
    this.cutAfter = this.started
  }
}

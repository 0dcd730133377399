import { monotonicNow } from './clock.ts'
/**
 * Collects items and hands them over in batches: the first item after a quiet spell goes out on
 * the next turn of the event loop (no added latency at low rates); under load, at most one
 * batch per `windowMs` (one message instead of many). With `leading: false`, every batch waits
 * for its window (for work where a little delay costs nothing and every message saved counts).
 */
export class Batcher<T> {
  private items: T[] = []
  private timer: NodeJS.Immediate | NodeJS.Timeout | undefined
  /** Whether {@link timer} is an immediate. */
  private immediate = false
  private lastFlush = Number.NEGATIVE_INFINITY

  constructor(
    private readonly windowMs: number,
    private readonly flush: (items: T[]) => void,
    private readonly opts: { leading?: boolean } = {},
  ) {}

  add(item: T): void {
    this.items.push(item)
    if (this.timer !== undefined) return
    const wait = this.opts.leading === false ? this.windowMs : this.lastFlush + this.windowMs - monotonicNow()
    this.timer = wait <= 0 ? setImmediate(() => this.run()) : setTimeout(() => this.run(), wait)
    this.immediate = wait <= 0
  }

  /** Items waiting for the next batch. */
  get size(): number {
    return this.items.length
  }

  /** Hands over what is pending now. */
  flushNow(): void {
    this.cancelTimer()
    this.run()
  }

  /** Drops pending items and timers. */
  clear(): void {
    this.cancelTimer()
    this.items = []
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) {
      // each clear for its own kind (a fake clock refuses the other)
      if (this.immediate) clearImmediate(this.timer as NodeJS.Immediate)
      else clearTimeout(this.timer as NodeJS.Timeout)
    }
    this.timer = undefined
  }

  private run(): void {
    this.timer = undefined
    this.lastFlush = monotonicNow()
    const items = this.items
    this.items = []
    if (items.length > 0) this.flush(items)
  }
}

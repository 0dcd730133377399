import { onAbort } from '../../util/abort-fanout.ts'

/** DHT polls of result waiters a node starts per second at most (each costs it ~3 ms of CPU). */
export const POLLS_PER_SECOND = 20

/** First polls let go in a row at most while repeats wait: new waiters never starve the others. */
export const FIRSTS_IN_A_ROW = 4

/** A waiting poll: called with true when its turn comes, false when it gave up. */
type Turn = (go: boolean) => void

/**
 * Paces the DHT polls of a node's result waiters. A waiter of a task of another owner polls the
 * DHT now and then (notices bring the record, the polls catch one missed); each poll is a kad-dht
 * lookup of ~3 ms of CPU, so a light client watching 5,000 such tasks through one node cost it
 * 1.16 CPU-s a second (and its peer 0.19 answering them). Polls now take turns: up to `perSecond` at once after a quiet second (a
 * token bucket), then one every `1000 / perSecond` ms; a waiter's first poll goes before the
 * repeats of others (a record that landed before its waiter came is found at once), up to
 * {@link FIRSTS_IN_A_ROW} in a row while repeats wait.
 */
export class PollPacer {
  private readonly first = new Set<Turn>()
  private readonly again = new Set<Turn>()
  private tokens: number
  private filledAt: number
  private timer: NodeJS.Timeout | undefined
  private closed = false
  /** First polls let go since the last repeat. */
  private firstsInARow = 0

  constructor(
    private readonly perSecond = POLLS_PER_SECOND,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = perSecond
    this.filledAt = now()
  }

  /** Polls waiting for their turn. */
  get waiting(): number {
    return this.first.size + this.again.size
  }

  /**
   * Resolves true when a poll may start — a waiter's `first` poll before any repeat — or false
   * once `signal` aborts or the pacer is closed first.
   */
  turn(first: boolean, signal: AbortSignal): Promise<boolean> {
    if (this.closed || signal.aborted) return Promise.resolve(false)
    if (this.waiting === 0 && this.take()) return Promise.resolve(true)
    return new Promise<boolean>((resolve) => {
      const queue = first ? this.first : this.again
      const stop = onAbort(signal, () => {
        queue.delete(go)
        resolve(false)
      })
      const go: Turn = (ok) => {
        stop()
        resolve(ok)
      }
      queue.add(go)
      this.schedule()
    })
  }

  /** Ends every wait (false) and takes no more. */
  close(): void {
    this.closed = true
    clearTimeout(this.timer)
    for (const queue of [this.first, this.again]) {
      for (const go of queue) go(false)
      queue.clear()
    }
  }

  /** Takes a token if one is there (refilled at `perSecond`, up to `perSecond`). */
  private take(): boolean {
    const now = this.now()
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.filledAt) * this.perSecond) / 1000)
    this.filledAt = now
    if (this.tokens < 1) return false
    this.tokens--
    return true
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return
    const ms = Math.max(0, ((1 - this.tokens) * 1000) / this.perSecond)
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.release()
    }, Math.ceil(ms))
    this.timer.unref()
  }

  private release(): void {
    while (this.waiting > 0 && this.take()) {
      const firstTurn = this.first.size > 0 && (this.again.size === 0 || this.firstsInARow < FIRSTS_IN_A_ROW)
      this.firstsInARow = firstTurn ? this.firstsInARow + 1 : 0
      const queue = firstTurn ? this.first : this.again
      const [go] = queue
      queue.delete(go)
      go(true)
    }
    if (this.waiting > 0) this.schedule()
  }
}

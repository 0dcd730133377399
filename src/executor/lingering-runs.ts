/** How long an inline handler call may take to stop once its attempt ended before it counts, ms. */
export const LINGER_GRACE_MS = 1_000

/** What a {@link LingeringRuns} listener is told of a run that outlived its attempt. */
export interface LingeringRun {
  /** The handler type. */
  type: string
  taskId: string
  /** Such runs under way now, this one counted. */
  lingering: number
}

/**
 * Inline handler calls still running after their attempt ended (timed out or cancelled): an inline
 * handler runs on the node's event loop and cannot be stopped, only asked through its
 * `AbortSignal`; one that ignores it runs on beside the slot that was freed. Counted here so the
 * node can say so (a worker handler's thread is ended instead).
 */
export class LingeringRuns {
  #count = 0
  readonly #listeners = new Set<(run: LingeringRun) => void>()

  /** @param graceMs how long a call may take to stop after its attempt ended before it counts */
  constructor(private readonly graceMs = LINGER_GRACE_MS) {}

  /** Inline handler calls running now whose attempt already ended (over `graceMs` ago). */
  get count(): number {
    return this.#count
  }

  /** Calls `listener` for each handler call that runs on past the grace; returns the undo. */
  onLinger(listener: (run: LingeringRun) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * The attempt of `taskId` ended while its handler call had not settled: if `settled` has not
   * settled within the grace either, the call counts until it does.
   */
  track(type: string, taskId: string, settled: Promise<unknown>): void {
    let state: 'running' | 'counted' | 'done' = 'running'
    const done = () => {
      if (state === 'counted') this.#count--
      state = 'done'
      clearTimeout(timer)
    }
    const timer = setTimeout(() => {
      if (state !== 'running') return
      state = 'counted'
      this.#count++
      for (const listener of this.#listeners) listener({ type, taskId, lingering: this.#count })
    }, this.graceMs)
    timer.unref()
    settled.then(done, done)
  }
}

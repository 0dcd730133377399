/**
 * The node's cancellation of one attempt, with an AbortSignal made only when something reads
 * {@link signal} (a worker job, a handler's context). Making an AbortSignal costs microseconds (an
 * EventTarget): with one per attempt, it was ~5 µs of every task's CPU at the executor
 * (`replica-cost.ts --profile`), though a synchronous handler never looks at it and an inline
 * runner only needs to hear of the cancel ({@link onCancel}).
 */
export class Cancellation {
  #fired = false
  #reason: unknown
  #controller: AbortController | undefined
  #listeners: Set<(reason: unknown) => void> | undefined

  /** A cancellation that fires when `signal` does (at once when it has). */
  static of(signal: AbortSignal): Cancellation {
    const cancellation = new Cancellation()
    if (signal.aborted) cancellation.cancel(signal.reason)
    else signal.addEventListener('abort', () => cancellation.cancel(signal.reason), { once: true })
    return cancellation
  }

  /** True once cancelled. */
  get fired(): boolean {
    return this.#fired
  }

  /** Why it was cancelled (undefined until then). */
  get reason(): unknown {
    return this.#reason
  }

  /** A signal that aborts with the cancel's reason (made now if not yet; aborted if cancelled). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#fired) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /**
   * Calls `listener` with the reason when cancelled (not at all when it was already: check
   * {@link fired} first). Returns what removes it.
   */
  onCancel(listener: (reason: unknown) => void): () => void {
    if (this.#fired) return () => undefined
    this.#listeners ??= new Set()
    this.#listeners.add(listener)
    return () => this.#listeners?.delete(listener)
  }

  /** Cancels, once: the signal (if made) aborts, then every listener hears of it. */
  cancel(reason: unknown): void {
    if (this.#fired) return
    this.#fired = true
    this.#reason = reason
    this.#controller?.abort(reason)
    const listeners = this.#listeners
    this.#listeners = undefined
    if (listeners !== undefined) for (const listener of listeners) listener(reason)
  }
}

/** The request's cancellation: its own, or one that follows its signal; undefined when it has neither. */
export function cancellationOf(req: {
  cancellation?: Cancellation
  signal?: AbortSignal
}): Cancellation | undefined {
  if (req.cancellation !== undefined) return req.cancellation
  return req.signal === undefined ? undefined : Cancellation.of(req.signal)
}

/**
 * The node's cancellation of one attempt, with an AbortSignal made only when something reads
 * {@link signal} (a worker job, a handler's context). Making an AbortSignal costs microseconds (an
 * EventTarget): with one per attempt, it was ~5 µs of every task's CPU at the executor
 * (`replica-cost.ts --profile`), though a synchronous handler never looks at it and an inline
 * runner only needs to hear of the cancel ({@link onCancel}).
 */
export class Cancellation implements CancelSource {
  #fired = false
  #reason: unknown
  #controller: AbortController | undefined
  #listeners: Set<(reason: unknown) => void> | undefined

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

/** What a run needs of the node's cancellation: whether and why it fired, a signal, a listener. */
export interface CancelSource {
  readonly fired: boolean
  readonly reason: unknown
  readonly signal: AbortSignal
  /** Calls `listener` with the reason when cancelled (not when it was already); returns what removes it. */
  onCancel(listener: (reason: unknown) => void): () => void
}

/** An AbortSignal seen as a {@link CancelSource} (its listeners removed as they are let go). */
function signalSource(signal: AbortSignal): CancelSource {
  return {
    get fired() {
      return signal.aborted
    },
    get reason() {
      return signal.reason
    },
    signal,
    onCancel(listener) {
      if (signal.aborted) return () => undefined
      const onAbort = () => listener(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      return () => signal.removeEventListener('abort', onAbort)
    },
  }
}

/** The request's cancellation: its own, or its signal's; undefined when it has neither. */
export function cancellationOf(req: {
  cancellation?: Cancellation
  signal?: AbortSignal
}): CancelSource | undefined {
  if (req.cancellation !== undefined) return req.cancellation
  return req.signal === undefined ? undefined : signalSource(req.signal)
}

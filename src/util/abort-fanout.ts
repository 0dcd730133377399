/**
 * One `abort` listener per signal, however many wait on it. An `EventTarget` walks its listeners
 * on every `addEventListener` and `removeEventListener`, so thousands of waits that each listen to
 * one long-lived signal (a submission of many tasks waited for together, a node's stop signal)
 * cost time quadratic in their number: 10,000 listeners took 0.6 s to add here, and as long again
 * each time they were all removed and added anew.
 */

/** Per signal, what its abort calls (in the order added), and the one listener that calls them. */
const waiting = new WeakMap<AbortSignal, { calls: Set<() => void>; listener: () => void }>()

/**
 * Calls `listener` once when `signal` aborts (not when it has already: the caller checks
 * `signal.aborted` first), unless the function returned is called before. Listeners run in the
 * order they were added; one that throws does not keep the others from running (its error is
 * thrown again on a microtask, as an `EventTarget` reports a listener's error). Once the last one
 * is taken back, the signal is left with no listener of this module's.
 */
export function onAbort(signal: AbortSignal, listener: () => void): () => void {
  let entry = waiting.get(signal)
  if (entry === undefined) {
    const calls = new Set<() => void>()
    const fire = () => {
      waiting.delete(signal)
      for (const call of calls) {
        try {
          call()
        } catch (err) {
          queueMicrotask(() => {
            throw err
          })
        }
      }
    }
    entry = { calls, listener: fire }
    waiting.set(signal, entry)
    signal.addEventListener('abort', fire, { once: true })
  }
  const { calls, listener: fire } = entry
  calls.add(listener)
  return () => {
    if (!calls.delete(listener) || calls.size > 0 || waiting.get(signal)?.calls !== calls) return
    waiting.delete(signal)
    signal.removeEventListener('abort', fire)
  }
}

/**
 * `signal` when it is an `AbortSignal` or undefined.
 * @throws TypeError naming `where`: anything else would fail later, far from the call (a crash).
 */
export function checkSignal(signal: unknown, where: string): AbortSignal | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return signal
  throw new TypeError(
    `${where}: signal must be an AbortSignal, got ${signal === null ? 'null' : typeof signal}`,
  )
}

/** Resolves on a later turn of the event loop, after the timers and I/O that are due now. */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve))
}

/**
 * Calls `fn` on every item and returns what it returned, in order, giving the event loop a turn
 * whenever `budgetMs` have passed since the last one. For a batch whose handling is long (a frame
 * of tens of records, each verified and stored): handled in one go, it holds every timer due
 * meanwhile — the inline handlers' sleeps, the beacons, the lease checks — for its whole length;
 * this way, for `budgetMs` at most. A batch that takes less goes in one turn, at no extra cost.
 * `fn` runs synchronously; what it starts asynchronously goes on while the next items are handled.
 */
export async function mapInTurns<T, R>(
  items: readonly T[],
  budgetMs: number,
  fn: (item: T, index: number) => R,
): Promise<R[]> {
  const out: R[] = []
  let since = performance.now()
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && performance.now() - since >= budgetMs) {
      await nextTurn()
      since = performance.now()
    }
    out.push(fn(items[i], i))
  }
  return out
}

/** Resolves on a later turn of the event loop, after the timers and I/O that are due now. */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve))
}

/**
 * Calls `fn` on every item, `size` items per turn of the event loop, and returns what it returned,
 * in order. For a batch whose handling is long (a frame of tens of records, each verified and
 * stored): handled in one go, it holds every timer due meanwhile — the inline handlers' sleeps, the
 * beacons, the lease checks — for its whole length; in slices, those run between two of them.
 * `fn` runs synchronously; what it starts asynchronously goes on while the next slices run.
 */
export async function mapInSlices<T, R>(
  items: readonly T[],
  size: number,
  fn: (item: T, index: number) => R,
): Promise<R[]> {
  const out: R[] = []
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && i % size === 0) await nextTurn()
    out.push(fn(items[i], i))
  }
  return out
}

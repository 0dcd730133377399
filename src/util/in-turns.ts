/**
 * Resolves in the event loop's check phase (`setImmediate`): the I/O callbacks due run first; the
 * timers due run first too unless it is called from an I/O callback (then in the turn after).
 */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve))
}

let turnEnding: Promise<void> | undefined

/**
 * Like {@link nextTurn}, one promise for every caller of the same turn: all that wait on it resume
 * together, in one run of microtasks, so what they start in that run (writes of a `GroupWriter`) still
 * goes out together.
 */
export function turnEnd(): Promise<void> {
  turnEnding ??= new Promise<void>((resolve) =>
    setImmediate(() => {
      turnEnding = undefined
      resolve()
    }),
  )
  return turnEnding
}

/**
 * Calls `fn` on every item and returns what it returned, in order, giving the event loop a turn
 * whenever `budgetMs` have passed since the last one. For a batch whose handling is long (a frame
 * of tens of records, each verified and stored): handled in one go, it holds every timer due
 * meanwhile — the inline handlers' sleeps, the beacons, the lease checks — for its whole length;
 * this way, for about two budgets at most (see {@link nextTurn}). A batch that takes less goes in
 * one turn, at no extra cost.
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

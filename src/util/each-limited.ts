/**
 * Runs `fn` on every item, in order, with at most `limit` calls in flight at once: each call that
 * ends starts the next item. Stops taking items once `stopped` says so. Rejects with the first
 * error `fn` throws (the calls in flight run on).
 */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  stopped: () => boolean = () => false,
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length && !stopped()) await fn(items[next++])
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

/** Entries a {@link memoizeString} cache keeps before it starts over. */
export const DEFAULT_MEMO_ENTRIES = 50_000

/**
 * Memoises a pure function of a string: the same input always gives the same answer, so the answer
 * is kept (up to `maxEntries` inputs; the cache then starts over, which bounds its memory against
 * hostile inputs). Used for the wire checks every message repeats — peer ids, task ids — whose
 * parsing costs microseconds each.
 */
export function memoizeString<T>(
  fn: (input: string) => T,
  maxEntries = DEFAULT_MEMO_ENTRIES,
): (input: string) => T {
  let cache = new Map<string, T>()
  return (input: string): T => {
    const known = cache.get(input)
    if (known !== undefined || cache.has(input)) return known as T
    const value = fn(input)
    if (cache.size >= maxEntries) cache = new Map()
    cache.set(input, value)
    return value
  }
}

/**
 * Entries a {@link memoizeString} cache keeps before it starts over. The inputs that repeat do so
 * within moments (a task id checked on each path a message takes through a node), so a small cache
 * keeps nearly every hit; a large one keeps one-shot inputs long enough to reach V8's old
 * generation, whose collection a busy node then pays for: at 50,000 (and 20,000 and 8,192 for the
 * record keys' and proof climbs' memos) a node keeping copies spent 7–20 % more CPU per copy
 * (`scripts/replica-cost.ts`, 7 alternating rounds).
 */
export const DEFAULT_MEMO_ENTRIES = 4_096

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

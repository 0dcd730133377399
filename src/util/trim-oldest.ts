/** Per map, the live iterator {@link trimOldest} resumes from. */
const cursors = new WeakMap<Map<unknown, unknown>, Iterator<unknown>>()

/**
 * Forgets a map's oldest entries (insertion order) until it holds at most `max`, as
 * `map.delete(map.keys().next().value)` would, in constant time per entry.
 *
 * That idiom, in V8, walks every slot deleted since the map's table was last rebuilt: a map
 * bounded at 10,000 entries that forgets one per entry it takes walks thousands of dead slots each
 * time — 15–35 µs per new entry here, on every task a node sees. A live iterator kept per map goes
 * on from where it stopped instead: every entry before it was handed out and forgotten already
 * (new and re-set entries go to the end), so its next key is the oldest left.
 * @param evict - forgets one key; it must delete it from `map` (other bookkeeping too).
 *   @defaultValue `map.delete(key)` (no closure made per call: this runs for every entry set)
 */
export function trimOldest<K>(map: Map<K, unknown>, max: number, evict?: (key: K) => void): void {
  while (map.size > max) {
    let cursor = cursors.get(map) as Iterator<K> | undefined
    let next = cursor?.next()
    if (next === undefined || next.done === true) {
      // a cursor that ran out (the map was emptied) stays done: start again from the front
      cursor = map.keys()
      cursors.set(map, cursor)
      next = cursor.next()
    }
    if (next.done === true) return
    const size = map.size
    if (evict === undefined) map.delete(next.value)
    else evict(next.value)
    if (map.size >= size) return // the evicting function kept it: stop rather than spin
  }
}

/**
 * What forgetting the oldest entry of a bounded map costs per new entry, side by side: the idiom
 * `map.delete(map.keys().next().value)` against `trimOldest` (src/util/trim-oldest.ts), on a map
 * bounded at 10,000 entries that takes 60,000 (a node's story log, result cache, notices…: each
 * takes one entry per task). Prints µs per new entry for each 10,000.
 *
 *   npx tsx scripts/bounded-maps.ts
 */
import { trimOldest } from '../src/util/trim-oldest.ts'

const MAX = 10_000
const ids = Array.from({ length: 6 * MAX }, (_, i) => `bafkrei-task-${i}`.padEnd(59, 'x'))

function run(name: string, trim: (map: Map<string, number>) => void): void {
  const map = new Map<string, number>()
  const perEntry: string[] = []
  for (let r = 0; r < 6; r++) {
    const t0 = performance.now()
    for (let i = r * MAX; i < (r + 1) * MAX; i++) {
      map.set(ids[i], i)
      trim(map)
    }
    perEntry.push((((performance.now() - t0) * 1000) / MAX).toFixed(2))
  }
  console.log(`${name.padEnd(34)} µs per new entry, by 10,000: ${perEntry.join(' ')}`)
}

for (let round = 0; round < 2; round++) {
  run('map.delete(map.keys().next().value)', (map) => {
    while (map.size > MAX) map.delete(map.keys().next().value as string)
  })
  run('trimOldest', (map) => trimOldest(map, MAX))
}

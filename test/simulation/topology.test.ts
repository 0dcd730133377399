import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../src/simulation/random.ts'
import { degrees, formationTargets, meshTopology } from '../../src/simulation/topology.ts'

/** Nodes reachable from node 0 over the links. */
function reachable(n: number, links: Array<{ from: number; to: number }>): number {
  const adj = Array.from({ length: n }, () => [] as number[])
  for (const { from, to } of links) {
    adj[from].push(to)
    adj[to].push(from)
  }
  const seen = new Set([0])
  const todo = [0]
  for (let at = todo.pop(); at !== undefined; at = todo.pop()) {
    for (const next of adj[at]) {
      if (seen.has(next)) continue
      seen.add(next)
      todo.push(next)
    }
  }
  return seen.size
}

describe('meshTopology', () => {
  it.each([0, 1, 2, 5, 9])('a mesh of %i nodes (at most degree + 1) is complete', (n) => {
    const links = meshTopology(n, seededRandom(1))
    expect(links).toHaveLength((n * (n - 1)) / 2)
    expect(links.every(({ from, to }) => from < to)).toBe(true)
  })

  it.each([10, 32, 100, 500])(
    '%i nodes: connected, no pair twice, degree about 8 and never above 16',
    (n) => {
      const links = meshTopology(n, seededRandom(7))
      expect(reachable(n, links)).toBe(n)
      const pairs = new Set(links.map(({ from, to }) => `${Math.min(from, to)}-${Math.max(from, to)}`))
      expect(pairs.size).toBe(links.length)
      expect(links.every(({ from, to }) => from !== to)).toBe(true)
      const d = degrees(n, links)
      expect(Math.max(...d)).toBeLessThanOrEqual(16)
      expect(Math.min(...d)).toBeGreaterThanOrEqual(2)
      expect(d.reduce((a, b) => a + b, 0) / n).toBeCloseTo(8, 0)
    },
  )

  it('the same seed plans the same mesh; a degree below 2 is refused', () => {
    expect(meshTopology(50, seededRandom(3))).toEqual(meshTopology(50, seededRandom(3)))
    expect(() => meshTopology(50, seededRandom(3), { degree: 1 })).toThrow(/degree must be/)
  })
})

describe('formationTargets', () => {
  it('a complete mesh waits for every peer, a large one for every planned neighbour of each node', () => {
    expect(formationTargets(5, meshTopology(5, seededRandom(1)))).toEqual([4, 4, 4, 4, 4])
    const links = meshTopology(100, seededRandom(1))
    expect(formationTargets(100, links)).toEqual(degrees(100, links))
  })
})

/**
 * Who dials whom when a simulated mesh forms: a ring plus random chords, so the mesh is connected
 * (the ring) with a short diameter (the chords) and every node's degree stays bounded whatever the
 * mesh's size. A mesh small enough to be complete within the degree is complete.
 */

/** One planned connection: `from` dials `to` (indices into the mesh's nodes). */
export interface Link {
  from: number
  to: number
}

/** Options of {@link meshTopology}. */
export interface TopologyOptions {
  /** Connections a node should have: 2 on the ring, the rest chords. @defaultValue 8 */
  degree?: number
  /** No node gets more than this many planned connections. @defaultValue 2 × degree */
  maxDegree?: number
}

/** Connections each node plans by default (well under the node's limit of 32). */
export const DEFAULT_MESH_DEGREE = 8

/**
 * Plans the connections of an `n`-node mesh. Each node dials its ring successor and about
 * `(degree − 2) / 2` random chords to nodes that still have room, so the mean degree is about
 * `degree` and none exceeds `maxDegree`. With `n ≤ degree + 1` every pair is linked (lower index
 * dials). `random` makes it reproducible.
 */
export function meshTopology(n: number, random: () => number, opts: TopologyOptions = {}): Link[] {
  const degree = opts.degree ?? DEFAULT_MESH_DEGREE
  const maxDegree = Math.max(degree, opts.maxDegree ?? 2 * degree)
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`meshTopology: n must be a whole number ≥ 0, got ${n}`)
  if (!Number.isInteger(degree) || degree < 2) {
    throw new RangeError(`meshTopology: degree must be a whole number ≥ 2, got ${degree}`)
  }
  const links: Link[] = []
  if (n <= degree + 1) {
    for (let from = 0; from < n; from++) for (let to = from + 1; to < n; to++) links.push({ from, to })
    return links
  }
  const adjacent = Array.from({ length: n }, () => new Set<number>())
  const link = (from: number, to: number) => {
    adjacent[from].add(to)
    adjacent[to].add(from)
    links.push({ from, to })
  }
  for (let i = 0; i < n; i++) link(i, (i + 1) % n)
  const chords = Math.ceil((degree - 2) / 2)
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < chords && adjacent[i].size < maxDegree; c++) {
      const candidates: number[] = []
      for (let j = 0; j < n; j++) {
        if (j !== i && !adjacent[i].has(j) && adjacent[j].size < maxDegree) candidates.push(j)
      }
      if (candidates.length === 0) break
      link(i, candidates[Math.floor(random() * candidates.length)])
    }
  }
  return links
}

/** How many planned connections each node has (its neighbours once the mesh formed). */
export function degrees(n: number, links: Link[]): number[] {
  const out = new Array<number>(n).fill(0)
  for (const { from, to } of links) {
    out[from]++
    out[to]++
  }
  return out
}

/**
 * Neighbours a node must have heard for the mesh to count as formed: every planned neighbour
 * (every other node in a complete mesh). Waiting for a quorum of 3 hid a quarter of the
 * neighbour pairs of a 100-node mesh that never heard each other (an identify cut short on a busy
 * event loop); hearing them all costs a few seconds after the last dial.
 */
export function formationTargets(n: number, links: Link[]): number[] {
  return degrees(n, links)
}

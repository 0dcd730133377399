import { seededRandom } from '../simulation/random.ts'

/**
 * What the nemesis does to one node: `kill` (later `restart`), `freeze` (later `thaw`), or `cut`
 * it (with the nodes of its `side`) off the rest of the mesh while they run on (later `mend`).
 */
export type NemesisAction = 'kill' | 'freeze' | 'restart' | 'thaw' | 'cut' | 'mend'

/** One step of a nemesis schedule: at `atMs` after the start, do `action` to `node`. */
export interface NemesisStep {
  atMs: number
  action: NemesisAction
  node: string
  /**
   * A `cut` (and its `mend`): the other nodes of the node's part, cut off with it from the rest
   * (they still reach each other). Absent or empty: the node alone.
   */
  side?: string[]
}

/** Options of {@link planNemesis}. */
export interface NemesisOptions {
  /** The same seed gives the same schedule. */
  seed: number
  /** Names of the nodes it may hit. */
  nodes: string[]
  /** No fault starts at or after this, ms from the start. */
  durationMs: number
  /** A fault starts every this many ms (the first after one interval). */
  intervalMs: number
  /** A killed node is restarted on its data dir this long after the kill, ms. */
  downMs: number
  /** A frozen node (SIGSTOP) gets SIGCONT this long after the freeze, ms (longer than the lease TTL). */
  frozenMs: number
  /** Share of faults that are freezes, 0..1. */
  freezeShare: number
  /** Share of faults that are network cuts, 0..1 (the rest are kills). @defaultValue 0 */
  cutShare?: number
  /** A node cut off is let back this long after the cut, ms. @defaultValue frozenMs */
  cutMs?: number
  /**
   * Most nodes in the part a cut parts from the rest, the node among them (at most half the nodes
   * up): each cut draws a size from 1 to this. @defaultValue 1
   */
  cutPart?: number
  /**
   * Most faults at once; a tick when that many nodes are faulty is skipped (a cut makes every node
   * of its part faulty: one fault). @defaultValue 1
   */
  maxFaulty?: number
}

/** The action that heals each fault. */
const HEALS = { kill: 'restart', freeze: 'thaw', cut: 'mend' } as const

/**
 * The nemesis's whole schedule, decided up front from the seed: every `intervalMs` it picks a node
 * that is up (uniformly) and kills it (`kill`, later `restart` on its data dir), freezes it
 * (`freeze`, later `thaw`) or parts it, with up to `cutPart - 1` others drawn among those up, from
 * the rest of the mesh (`cut`, later `mend`: both parts run on), keeping at most `maxFaulty` faults
 * at once. Every fault is healed by the end of the schedule. Steps are in time order (a heal
 * before a fault at the same instant).
 */
export function planNemesis(opts: NemesisOptions): NemesisStep[] {
  const random = seededRandom(opts.seed)
  const maxFaulty = opts.maxFaulty ?? 1
  const steps: NemesisStep[] = []
  /** Faulty nodes and when they heal. */
  const healsAt = new Map<string, number>()
  for (let at = opts.intervalMs; at < opts.durationMs; at += opts.intervalMs) {
    for (const [node, healAt] of healsAt) if (healAt <= at) healsAt.delete(node)
    const draw = random()
    const kind =
      draw < opts.freezeShare ? 'freeze' : draw < opts.freezeShare + (opts.cutShare ?? 0) ? 'cut' : 'kill'
    const pick = random()
    if (healsAt.size >= maxFaulty) continue
    const up = opts.nodes.filter((n) => !healsAt.has(n))
    if (up.length <= 1) continue
    const node = up[Math.floor(pick * up.length)]
    const lasts = { kill: opts.downMs, freeze: opts.frozenMs, cut: opts.cutMs ?? opts.frozenMs }[kind]
    const side = kind === 'cut' ? sideOf(node, up, opts.cutPart ?? 1, random) : []
    for (const n of [node, ...side]) healsAt.set(n, at + lasts)
    const parted = side.length > 0 ? { side } : {}
    steps.push({ atMs: at, action: kind, node, ...parted })
    steps.push({ atMs: at + lasts, action: HEALS[kind], node, ...parted })
  }
  const heal = (a: NemesisAction) => (isHeal(a) ? 0 : 1)
  return steps.sort((a, b) => a.atMs - b.atMs || heal(a.action) - heal(b.action))
}

/** The others of a cut node's part: a size drawn from 1 to `most` (at most half of `up`), then nodes of `up`. */
function sideOf(node: string, up: string[], most: number, random: () => number): string[] {
  const largest = Math.min(most, Math.floor(up.length / 2))
  if (largest <= 1) return [] // no draw: a plan of lone cuts draws as one without cuts
  const size = 1 + Math.floor(random() * largest)
  const others = up.filter((n) => n !== node)
  const side: string[] = []
  while (side.length < size - 1) side.push(others.splice(Math.floor(random() * others.length), 1)[0])
  return side
}

/** True for an action that ends a fault (`restart`, `thaw`, `mend`). */
export function isHeal(action: NemesisAction): boolean {
  return action === 'restart' || action === 'thaw' || action === 'mend'
}

/** How many steps of each action a schedule has. */
export function countActions(steps: NemesisStep[]): Record<NemesisAction, number> {
  const counts: Record<NemesisAction, number> = { kill: 0, freeze: 0, restart: 0, thaw: 0, cut: 0, mend: 0 }
  for (const s of steps) counts[s.action]++
  return counts
}

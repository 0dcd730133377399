import { seededRandom } from '../simulation/random.ts'

/** What the nemesis does to one node. */
export type NemesisAction = 'kill' | 'freeze' | 'restart' | 'thaw'

/** One step of a nemesis schedule: at `atMs` after the start, do `action` to `node`. */
export interface NemesisStep {
  atMs: number
  action: NemesisAction
  node: string
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
  /** Share of faults that are freezes rather than kills, 0..1. */
  freezeShare: number
  /** Most nodes down or frozen at once; a tick when that many are is skipped. @defaultValue 1 */
  maxFaulty?: number
}

/**
 * The nemesis's whole schedule, decided up front from the seed: every `intervalMs` it picks a node
 * that is up (uniformly) and kills it (`kill`, later `restart` on its data dir) or freezes it
 * (`freeze`, later `thaw`), keeping at most `maxFaulty` nodes faulty at once. Every fault is healed
 * by the end of the schedule. Steps are in time order (a heal before a fault at the same instant).
 */
export function planNemesis(opts: NemesisOptions): NemesisStep[] {
  const random = seededRandom(opts.seed)
  const maxFaulty = opts.maxFaulty ?? 1
  const steps: NemesisStep[] = []
  /** Faulty nodes and when they heal. */
  const healsAt = new Map<string, number>()
  for (let at = opts.intervalMs; at < opts.durationMs; at += opts.intervalMs) {
    for (const [node, healAt] of healsAt) if (healAt <= at) healsAt.delete(node)
    const kind = random() < opts.freezeShare ? 'freeze' : 'kill'
    const pick = random()
    if (healsAt.size >= maxFaulty) continue
    const up = opts.nodes.filter((n) => !healsAt.has(n))
    if (up.length <= 1) continue
    const node = up[Math.floor(pick * up.length)]
    const healAt = at + (kind === 'kill' ? opts.downMs : opts.frozenMs)
    healsAt.set(node, healAt)
    steps.push({ atMs: at, action: kind, node })
    steps.push({ atMs: healAt, action: kind === 'kill' ? 'restart' : 'thaw', node })
  }
  const heal = (a: NemesisAction) => (a === 'restart' || a === 'thaw' ? 0 : 1)
  return steps.sort((a, b) => a.atMs - b.atMs || heal(a.action) - heal(b.action))
}

/** How many steps of each action a schedule has. */
export function countActions(steps: NemesisStep[]): Record<NemesisAction, number> {
  const counts: Record<NemesisAction, number> = { kill: 0, freeze: 0, restart: 0, thaw: 0 }
  for (const s of steps) counts[s.action]++
  return counts
}

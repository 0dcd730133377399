import { seededRandom } from '../simulation/random.ts'

/**
 * What the nemesis does to one node: `kill` (later `restart`), `freeze` (later `thaw`), or `cut`
 * it off the network while it runs on (later `mend`).
 */
export type NemesisAction = 'kill' | 'freeze' | 'restart' | 'thaw' | 'cut' | 'mend'

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
  /** Share of faults that are freezes, 0..1. */
  freezeShare: number
  /** Share of faults that are network cuts, 0..1 (the rest are kills). @defaultValue 0 */
  cutShare?: number
  /** A node cut off is let back this long after the cut, ms. @defaultValue frozenMs */
  cutMs?: number
  /** Most nodes down or frozen at once; a tick when that many are is skipped. @defaultValue 1 */
  maxFaulty?: number
}

/** The action that heals each fault. */
const HEALS = { kill: 'restart', freeze: 'thaw', cut: 'mend' } as const

/**
 * The nemesis's whole schedule, decided up front from the seed: every `intervalMs` it picks a node
 * that is up (uniformly) and kills it (`kill`, later `restart` on its data dir), freezes it
 * (`freeze`, later `thaw`) or cuts it off the network (`cut`, later `mend`: it runs on, alone),
 * keeping at most `maxFaulty` nodes faulty at once. Every fault is healed by the end of the
 * schedule. Steps are in time order (a heal before a fault at the same instant).
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
    healsAt.set(node, at + lasts)
    steps.push({ atMs: at, action: kind, node })
    steps.push({ atMs: at + lasts, action: HEALS[kind], node })
  }
  const heal = (a: NemesisAction) => (isHeal(a) ? 0 : 1)
  return steps.sort((a, b) => a.atMs - b.atMs || heal(a.action) - heal(b.action))
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

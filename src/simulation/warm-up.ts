import type { SimNode, SimResult } from './sim-node.ts'
import type { SimulationConfig, SimulationProgress, SubmitPattern } from './simulation-types.ts'

/** Longest warm-up sleep, ms: the workload's paths (intake, steals, records) at a fraction of its time. */
export const WARM_UP_MAX_MS = 5
/** Workload durations a warm-up repeats (cut to {@link WARM_UP_MAX_MS}). */
const WARM_UP_PATTERN = 1_000
/** Tasks submitted per call, as the measured run sends them. */
const CHUNK = 500

/**
 * The scenario's warm-up for a run of `tasks`: as many sleeps per task of the run as the scenario
 * has (a smaller run, a shorter warm-up).
 */
export function scaledWarmUp(base: SimulationConfig, tasks: number): number {
  return Math.round(((base.warmUp ?? 0) * tasks) / Math.max(1, base.tasks))
}

/**
 * The warm-up's sleeps: the workload's first durations cut to {@link WARM_UP_MAX_MS}, repeated
 * until there are `count`.
 */
export function warmUpDurations(durations: number[], count: number): number[] {
  const once = durations.slice(0, WARM_UP_PATTERN).map((ms) => Math.min(ms, WARM_UP_MAX_MS))
  if (once.length === 0) return []
  return Array.from({ length: count }, (_, i) => once[i % once.length])
}

/**
 * Where each of `durations` enters the mesh (the i-th of the workload is `offset + i`): every one at
 * node 0, or round-robin over the nodes. Durations by node index, in order.
 */
export function entryGroups(
  durations: number[],
  offset: number,
  pattern: SubmitPattern,
  nodes: number,
): Map<number, number[]> {
  const groups = new Map<number, number[]>()
  durations.forEach((ms, j) => {
    const at = pattern === 'one-node' ? 0 : (offset + j) % nodes
    const group = groups.get(at)
    if (group === undefined) groups.set(at, [ms])
    else group.push(ms)
  })
  return groups
}

/**
 * Runs short sleeps through the mesh, entering as the workload will, and waits for every result:
 * the measured run then finds the nodes' hot paths compiled, as on daemons that have run for a
 * while, not V8 compiling them on the cores the run needs (the 2-daemon comparison warms its
 * processes the same way).
 */
export async function warmUp(
  nodes: SimNode[],
  sleeps: number[],
  pattern: SubmitPattern,
  progress: (e: SimulationProgress) => void,
): Promise<void> {
  if (sleeps.length === 0) return
  const seen = new Set<string>()
  let resolveAll: () => void = () => undefined
  const allIn = new Promise<void>((resolve) => {
    resolveAll = resolve
  })
  const onResult = (r: SimResult) => {
    seen.add(r.taskId)
    progress({ phase: 'warm-up', done: seen.size, total: sleeps.length })
    if (seen.size === sleeps.length) resolveAll()
  }
  progress({ phase: 'warm-up', done: 0, total: sleeps.length })
  for (let i = 0; i < sleeps.length; i += CHUNK) {
    const chunk = sleeps.slice(i, i + CHUNK)
    for (const [node, list] of entryGroups(chunk, i, pattern, nodes.length)) {
      await nodes[node].submit(
        list.map((ms) => ({ type: 'sleep', input: { ms } })),
        onResult,
      )
    }
  }
  await allIn
}

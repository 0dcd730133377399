import type { SimNode, SimResult } from './sim-node.ts'
import type { SimulationConfig, SimulationProgress, SubmitPattern } from './simulation-types.ts'

/** Longest warm-up sleep, ms: the workload's paths (intake, steals, records) at a fraction of its time. */
export const WARM_UP_MAX_MS = 5
/** Workload durations a warm-up repeats (cut to {@link WARM_UP_MAX_MS}). */
const WARM_UP_PATTERN = 1_000
/** Tasks submitted per call (a client's batch), in the warm-up as in the measured run. */
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
 * Submits a sleep per duration, in chunks of {@link CHUNK} one after another (as a client would send
 * them), each task at node 0 or round-robin over the nodes (the i-th of `durations` at node i mod
 * nodes). Resolves with the task ids, in submission order, and each task's duration by id.
 * @param onSubmitted told the count submitted so far, after each submission.
 */
export async function submitSleeps(
  nodes: SimNode[],
  durations: number[],
  pattern: SubmitPattern,
  onResult: (r: SimResult) => void,
  onSubmitted: (count: number) => void = () => undefined,
): Promise<{ ids: string[]; durationOf: Map<string, number> }> {
  const ids: string[] = []
  const durationOf = new Map<string, number>()
  let submitted = 0
  for (let i = 0; i < durations.length; i += CHUNK) {
    const groups = new Map<number, number[]>()
    durations.slice(i, i + CHUNK).forEach((ms, j) => {
      const at = pattern === 'one-node' ? 0 : (i + j) % nodes.length
      const group = groups.get(at)
      if (group === undefined) groups.set(at, [ms])
      else group.push(ms)
    })
    for (const [at, list] of groups) {
      const got = await nodes[at].submit(
        list.map((ms) => ({ type: 'sleep', input: { ms } })),
        onResult,
      )
      for (const [k, id] of got.entries()) durationOf.set(id, list[k])
      ids.push(...got)
      submitted += list.length
      onSubmitted(submitted)
    }
  }
  return { ids, durationOf }
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
  await submitSleeps(nodes, sleeps, pattern, onResult)
  await allIn
}

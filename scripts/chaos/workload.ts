import type { SubmittedTask } from '../../src/chaos/history.ts'
import type { ChaosCluster } from './cluster.ts'
import { submit } from './daemons.ts'
import { RECORDED_HANDLER, recordedOutput } from './recording-handlers.js'

/** What the workload submits, and how fast. */
export interface WorkloadOptions {
  tasks: number
  /** Tasks per `POST /tasks`. */
  batch: number
  /** Submit loops running at once, each to the next node that is up. */
  submitters: number
  /** Pause of each loop between its batches, ms. */
  pauseMs: number
  /** Task durations are drawn uniformly from this range, ms. */
  taskMs: { min: number; max: number }
  /** Seeded randomness for the durations. */
  random: () => number
  /** Attempts each task may make (runs cut off by a failure do not count). */
  maxAttempts?: number
}

/** Resolves after `ms`. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Submits `tasks` `recorded` tasks (`t0`, `t1`, …) through the nodes that are up, round-robin, in
 * batches over `POST /tasks`, while the nemesis runs. A submit holds its node (see
 * {@link ChaosCluster.withNode}), so the nemesis never cuts one off: every submit answers, and
 * every task is either accepted (its id known) or refused (the run fails). Resolves with the
 * accepted tasks.
 */
export async function runWorkload(cluster: ChaosCluster, opts: WorkloadOptions): Promise<SubmittedTask[]> {
  const specs = Array.from({ length: opts.tasks }, (_, i) => {
    const key = `t${i}`
    const ms = Math.round(opts.taskMs.min + (opts.taskMs.max - opts.taskMs.min) * opts.random())
    return { key, spec: { type: RECORDED_HANDLER, input: { key, ms }, maxAttempts: opts.maxAttempts ?? 3 } }
  })
  const accepted: SubmittedTask[] = []
  let next = 0
  let turn = 0
  const loop = async () => {
    while (next < specs.length) {
      const batch = specs.slice(next, next + opts.batch)
      next += batch.length
      let up = cluster.up()
      while (up.length === 0) {
        await pause(50)
        up = cluster.up()
      }
      const node = up[turn++ % up.length]
      const submittedAt = Date.now()
      const ids = await cluster.withNode(node, () =>
        submit(
          node.daemon,
          batch.map((b) => b.spec),
        ),
      )
      batch.forEach((b, i) => {
        accepted.push({
          key: b.key,
          taskId: ids[i],
          node: node.name,
          submittedAt,
          expectedOutput: recordedOutput(b.key),
        })
      })
      await pause(opts.pauseMs)
    }
  }
  await Promise.all(Array.from({ length: opts.submitters }, loop))
  return accepted
}

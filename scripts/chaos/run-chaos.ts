import {
  checkHistory,
  type Execution,
  type History,
  type SubmittedTask,
  type Verdict,
} from '../../src/chaos/history.ts'
import {
  countActions,
  isHeal,
  type NemesisAction,
  type NemesisOptions,
  type NemesisStep,
  planNemesis,
} from '../../src/chaos/nemesis.ts'
import { type Reexecution, reexecutions } from '../../src/chaos/reexecution.ts'
import { seededRandom } from '../../src/simulation/random.ts'
import { ChaosCluster, type ClusterOptions } from './cluster.ts'
import { awaitResults, readRecords, stories, viewOf } from './evidence.ts'
import { readExecutionLog } from './execution-log.ts'
import { pause, runWorkload, type WorkloadOptions } from './workload.ts'

/** Tasks without a result at their accepting node that are looked for at every node, at most. */
const MAX_SEARCHED = 500

/** One chaos run: the cluster, the workload, the nemesis and the checker's settings. */
export interface ChaosOptions {
  cluster: ClusterOptions
  workload: Omit<WorkloadOptions, 'random'>
  nemesis: Omit<NemesisOptions, 'seed' | 'nodes'>
  seed: number
  /** See {@link History.settleMs}. */
  settleMs: number
  /** How long, after the last heal, every accepted task may take to get a result, ms. */
  drainMs: number
  /** Tasks that ran once, read at every node besides those that ran more than once (see {@link crossCheckedTasks}). */
  sample: number
  /** Progress lines. */
  log?: (line: string) => void
}

/** What a run did and what the checker found. */
export interface ChaosReport {
  history: History
  verdict: Verdict
  schedule: NemesisStep[]
  /** Actions the nemesis carried out. */
  done: Record<NemesisAction, number>
  reexecutions: Reexecution[]
  /** Tasks without a result at their accepting node when the drain ended. */
  unfinished: SubmittedTask[]
  /** For the first few tasks the checker found a problem with: their runs and every node's story. */
  evidence: string
  timings: { totalMs: number; workloadMs: number; drainMs: number; readMs: number }
}

/**
 * Carries out the schedule in order, each step at its time or as soon as the step before it is
 * done. A restart (a daemon takes seconds to start on a busy machine) goes on while later steps
 * run, but it counts as a fault: the next fault waits for it, so no more nodes are out at once
 * than the plan says. A fault carried out late is healed as long after it as planned.
 */
async function runNemesis(cluster: ChaosCluster, schedule: NemesisStep[], log: (l: string) => void) {
  const started = Date.now()
  const done = countActions([])
  const restarting = new Map<string, Promise<void>>()
  /** Per faulty node: how much later than planned its fault came, ms. */
  const late = new Map<string, number>()
  for (const step of schedule) {
    const heal = isHeal(step.action)
    await pause(Math.max(0, started + step.atMs + (heal ? (late.get(step.node) ?? 0) : 0) - Date.now()))
    if (!heal) await Promise.all(restarting.values())
    log(
      `nemesis +${Date.now() - started} ms: ${step.action} ${[step.node, ...(step.side ?? [])].join(' + ')}`,
    )
    if (!heal) late.set(step.node, Date.now() - started - step.atMs)
    if (step.action === 'kill') await cluster.kill(step.node)
    else if (step.action === 'freeze') await cluster.freeze(step.node)
    else if (step.action === 'thaw') cluster.thaw(step.node)
    else if (step.action === 'cut') await cluster.cut(step.node, step.side)
    else if (step.action === 'mend') await cluster.mend(step.node, step.side)
    else restarting.set(step.node, cluster.restart(step.node))
    if (heal) late.delete(step.node)
    done[step.action]++
  }
  await Promise.all(restarting.values())
  return done
}

/**
 * Starts the cluster, runs the workload and the nemesis side by side, heals every node, waits for
 * every accepted task's result, reads every record at every node, collects the execution logs and
 * checks the history. The cluster is stopped at the end, whatever happens.
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => undefined)
  const t0 = Date.now()
  const schedule = planNemesis({ ...opts.nemesis, seed: opts.seed, nodes: nodeNames(opts) })
  const cluster = await ChaosCluster.start(opts.cluster)
  try {
    log(`cluster of ${cluster.nodes.length} up after ${Date.now() - t0} ms`)
    const tw = Date.now()
    const random = seededRandom(opts.seed ^ 0x5eed)
    const [tasks, done] = await Promise.all([
      runWorkload(cluster, { ...opts.workload, random }),
      runNemesis(cluster, schedule, log),
    ])
    await cluster.healAll()
    const workloadMs = Date.now() - tw
    log(`${tasks.length} tasks accepted, nemesis done after ${workloadMs} ms`)
    const td = Date.now()
    const drained = await awaitResults(cluster, tasks, opts.drainMs)
    const unfinished = drained.missing
    const drainMs = Date.now() - td
    log(`drained after ${drainMs} ms, ${unfinished.length} without a result`)
    for (const t of unfinished.slice(0, 3))
      log(`no result for ${t.key} ${t.taskId}:\n${await stories(cluster, t.taskId)}`)
    const executions = (
      await Promise.all(cluster.nodes.map((n) => readExecutionLog(n.name, n.logFile)))
    ).flat()
    const tr = Date.now()
    const names = cluster.names()
    // a task its accepting node could not read is looked for at every node (the first MAX_SEARCHED):
    // lost only if none has it
    const checked = [
      ...new Set([
        ...crossCheckedTasks(tasks, executions, opts.sample, seededRandom(opts.seed ^ 0xc4ec)),
        ...unfinished.slice(0, MAX_SEARCHED).map((t) => t.taskId),
      ]),
    ]
    const reads = await readRecords(cluster, checked, { waitMs: 0, convergeMs: 10_000 })
    for (const t of tasks) {
      const record = drained.records.get(t.taskId)
      if (!(t.taskId in reads[t.node])) reads[t.node][t.taskId] = record && viewOf(record, names)
    }
    const readMs = Date.now() - tr
    const history: History = { tasks, executions, faults: cluster.faults, reads, settleMs: opts.settleMs }
    const verdict = checkHistory(history)
    return {
      history,
      verdict,
      evidence: await problemEvidence(cluster, verdict, history),
      schedule,
      done,
      reexecutions: reexecutions(executions, cluster.faults),
      unfinished,
      timings: { totalMs: Date.now() - t0, workloadMs, drainMs, readMs },
    }
  } finally {
    await cluster.stop()
  }
}

/** Tasks of the verdict's problems whose runs and stories go into {@link ChaosReport.evidence}. */
const EVIDENCE_TASKS = 3

/** The runs of the first problem tasks, the faults, and each node's story of those tasks. */
async function problemEvidence(cluster: ChaosCluster, verdict: Verdict, history: History): Promise<string> {
  const problems = verdict.problems.slice(0, EVIDENCE_TASKS)
  if (problems.length === 0) return ''
  const faults = history.faults.map(
    (f) => `  ${f.kind} ${f.node} (pid ${f.incarnation}) at ${f.at}, back at ${f.recoveredAt ?? '-'}`,
  )
  const parts = [`faults:\n${faults.join('\n')}`]
  for (const p of problems) {
    const runs = history.executions
      .filter((e) => e.taskId === p.taskId)
      .map((e) => `  ${e.node} (pid ${e.incarnation}) ${e.startedAt} → ${e.endedAt ?? 'cut off'}`)
    parts.push(`${p.key ?? ''} ${p.taskId} runs:\n${runs.join('\n')}\n${await stories(cluster, p.taskId)}`)
  }
  return parts.join('\n')
}

/**
 * The tasks read at every node, not only at the node that accepted them: every task that ran
 * more than once, plus `sample` of the others drawn with `random`. Only a task that ran more than
 * once has more than one record in the mesh, so only such a task can be read differently by two
 * nodes; for the others, the sample checks that every node finds the one record.
 */
export function crossCheckedTasks(
  tasks: SubmittedTask[],
  executions: Execution[],
  sample: number,
  random: () => number,
): string[] {
  const runs = new Map<string, number>()
  for (const e of executions) runs.set(e.taskId, (runs.get(e.taskId) ?? 0) + 1)
  const many = tasks.filter((t) => (runs.get(t.taskId) ?? 0) > 1).map((t) => t.taskId)
  const once = tasks.filter((t) => (runs.get(t.taskId) ?? 0) <= 1).map((t) => t.taskId)
  for (let i = once.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[once[i], once[j]] = [once[j], once[i]]
  }
  return [...many, ...once.slice(0, sample)]
}

function nodeNames(opts: ChaosOptions): string[] {
  return Array.from({ length: opts.cluster.nodes }, (_, i) => `n${i}`)
}

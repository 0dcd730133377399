import { quantile } from '../../src/simulation/random.ts'
import type { ChaosReport } from './run-chaos.ts'

/** The figures of a chaos run. */
export interface ChaosSummary {
  tasks: number
  runs: number
  kills: number
  freezes: number
  /** Nodes cut off the network (each let back later). */
  cuts: number
  restarts: number
  thaws: number
  ok: number
  lost: number
  duplicated: number
  unexpected: number
  /** Runs a failure cut off (or, for a network cut, ran on cut off from the mesh). */
  cutOff: number
  /** Of those, runs whose task never started again elsewhere (a frozen run that finished after SIGCONT). */
  notRerun: number
  /** Time to re-execution (see `reexecutions`), ms. */
  reexecutionP50Ms: number
  reexecutionP95Ms: number
  reexecutionMaxMs: number
  /** Time to re-execution after a crash (kill) only: the target is p95 ≤ 2 s. */
  crashReexecutionP50Ms: number
  crashReexecutionP95Ms: number
  crashReexecutionMaxMs: number
  /** Time to re-execution after a freeze (SIGSTOP) only: bounded by the lease TTL. */
  freezeReexecutionP50Ms: number
  freezeReexecutionP95Ms: number
  totalMs: number
  workloadMs: number
  drainMs: number
  readMs: number
}

/** Boils a report down to its figures. */
export function summarize(report: ChaosReport): ChaosSummary {
  const delaysOf = (kind?: 'kill' | 'freeze') =>
    report.reexecutions
      .filter((r) => kind === undefined || r.fault.kind === kind)
      .map((r) => r.delayMs)
      .filter((d): d is number => d !== undefined)
  const delays = delaysOf()
  const crashes = delaysOf('kill')
  const freezes = delaysOf('freeze')
  const { counts } = report.verdict
  return {
    tasks: report.history.tasks.length,
    runs: report.history.executions.length,
    kills: report.done.kill,
    freezes: report.done.freeze,
    cuts: report.done.cut,
    restarts: report.done.restart,
    thaws: report.done.thaw,
    ok: counts.ok,
    lost: counts.lost,
    duplicated: counts.duplicated,
    unexpected: counts.unexpected,
    cutOff: report.reexecutions.length,
    notRerun: report.reexecutions.length - delays.length,
    reexecutionP50Ms: quantile(delays, 0.5),
    reexecutionP95Ms: quantile(delays, 0.95),
    reexecutionMaxMs: delays.length === 0 ? Number.NaN : Math.max(...delays),
    crashReexecutionP50Ms: quantile(crashes, 0.5),
    crashReexecutionP95Ms: quantile(crashes, 0.95),
    crashReexecutionMaxMs: crashes.length === 0 ? Number.NaN : Math.max(...crashes),
    freezeReexecutionP50Ms: quantile(freezes, 0.5),
    freezeReexecutionP95Ms: quantile(freezes, 0.95),
    ...report.timings,
  }
}

/** The problems of a report as lines (at most `limit`), for a failure message or a log. */
export function describeProblems(report: ChaosReport, limit = 20): string {
  const lines = report.verdict.problems
    .slice(0, limit)
    .map((p) => `${p.outcome} ${p.key ?? ''} ${p.taskId} (${p.runs} runs): ${p.reasons.join('; ')}`)
  const more = report.verdict.problems.length - lines.length
  return [...lines, ...(more > 0 ? [`… and ${more} more`] : [])].join('\n')
}

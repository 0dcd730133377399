import { slotTimeLine } from '../../src/simulation/report-text.ts'
import { type NoopRun, PROCESSES, SLOTS } from './noop.ts'
import { type Condition, type Pair, pair } from './report.ts'
import type { SkewedRun } from './skewed.ts'

/** The target a ratio (taskmesh / BullMQ) must reach. */
export const ratioAtLeast = (value: number): Condition => ({ on: 'ratio', op: '>=', value })
/** The most a ratio (taskmesh / BullMQ) may be. */
export const ratioAtMost = (value: number): Condition => ({ on: 'ratio', op: '<=', value })
/** The most taskmesh's own figure may be. */
export const atMost = (value: number): Condition => ({ on: 'value', op: '<=', value })

/** The no-op figures of one taskmesh setting beside BullMQ's, with their targets. */
export function noopPairs(label: string, tm: NoopRun, bq: NoopRun, concurrency: number): Pair[] {
  const w = `no-op (${label})`
  const perK = (cpu: number, run: NoopRun) => (cpu / run.tasks) * 1000
  const processes = (run: NoopRun) =>
    Object.entries(run.cpu.processes)
      .map(([n, s]) => `${n} ${s.toFixed(2)}`)
      .join(', ')
  return [
    pair(
      w,
      'throughput',
      'tasks/s',
      tm.tasksPerSec,
      bq.tasksPerSec,
      [ratioAtLeast(1)],
      `${tm.tasks} no-ops; taskmesh ${PROCESSES} daemons × ${SLOTS} slots, HTTP batches of 500, done when every record is signed and stored at every daemon; BullMQ ${PROCESSES} workers × concurrency ${concurrency}, addBulk 500`,
    ),
    pair(
      w,
      'CPU per 1,000 tasks, every process',
      'CPU-s',
      perK(tm.cpu.total, tm),
      perK(bq.cpu.total, bq),
      [ratioAtMost(1)],
      `taskmesh: ${processes(tm)}; BullMQ: ${processes(bq)} (CPU-s of the whole run)`,
    ),
    pair(
      w,
      'CPU per 1,000 tasks, submitting client',
      'CPU-s',
      perK(tm.cpu.bench, tm),
      perK(bq.cpu.processes['bullmq-producer'] ?? Number.NaN, bq),
      [],
      'taskmesh: this benchmark process (HTTP client; not in the row above); BullMQ: the producer (in the row above)',
    ),
    pair(
      w,
      'results read back',
      'of sample',
      tm.verified.found / tm.verified.sampled,
      bq.verified.found / bq.verified.sampled,
      [],
      `taskmesh: ${tm.verified.found}/${tm.verified.sampled} read at another daemon than the one submitted to; BullMQ: ${bq.verified.found}/${bq.verified.sampled} jobs with finishedOn`,
    ),
    pair(
      w,
      'submit → result p50, local',
      'ms',
      tm.local.p50,
      bq.local.p50,
      [ratioAtMost(1)],
      `${tm.local.samples} tasks one at a time; taskmesh POST /tasks?wait= (submit and wait in one request) at the same daemon; BullMQ add → completed (QueueEvents)`,
    ),
    pair(w, 'submit → result p99, local', 'ms', tm.local.p99, bq.local.p99),
    pair(
      w,
      'submit → result p50, one steal hop',
      'ms',
      tm.hop?.p50 ?? Number.NaN,
      bq.local.p50,
      [ratioAtMost(2)],
      `remote-noop: only the third daemon runs it; ${tm.hop?.offHop ?? 0} of ${tm.hop?.samples ?? 0} ran elsewhere; BullMQ's one path`,
    ),
    pair(w, 'submit → result p99, one steal hop', 'ms', tm.hop?.p99 ?? Number.NaN, bq.local.p99),
  ]
}

/** Every round's makespan / ideal of a skewed run. */
function roundsText(run: SkewedRun): string {
  return run.rounds.map((r) => r.toFixed(3)).join(', ')
}

/** The skewed 2-daemon makespan (the median round) beside BullMQ's, with its targets. */
export function skewedPairs(label: string, tm: SkewedRun, bq: SkewedRun): Pair[] {
  return [
    pair(
      `skewed (${label})`,
      'makespan / ideal, 2 processes × 16 slots',
      'ratio',
      tm.ratio,
      bq.ratio,
      [atMost(1.1), ratioAtMost(1)],
      `median of ${tm.rounds.length} rounds on the same processes (${roundsText(tm)} vs ${roundsText(bq)}); ${tm.tasks} lognormal sleeps (median 20 ms) at one daemon; makespan ${tm.makespanMs.toFixed(0)} vs ${bq.makespanMs.toFixed(0)} ms, ideal ${tm.idealMs.toFixed(0)} ms; tasks per process ${tm.perProcess.join('/')} vs ${bq.perProcess.join('/')}; ${tm.failed} failed${slotsText(tm, bq)}`,
    ),
  ]
}

/** Where each median round's slot time went, taskmesh's then BullMQ's (none when either lacks it). */
function slotsText(tm: SkewedRun, bq: SkewedRun): string {
  if (tm.slotTime === undefined || bq.slotTime === undefined) return ''
  return `; slot time: ${slotTimeLine(tm.slotTime)} vs ${slotTimeLine(bq.slotTime)}`
}

import { join } from 'node:path'
import { SCENARIOS } from '../../simulations/index.ts'
import type { AccountingSnapshot } from '../../src/node/accounting/accounting.ts'
import { sampleDuration, seededRandom } from '../../src/simulation/random.ts'
import type { SimulationConfig } from '../../src/simulation/run-simulation.ts'
import { type SlotRun, type SlotTime, slotTime } from '../../src/simulation/slot-time.ts'
import { warmUpDurations } from '../../src/simulation/warm-up.ts'
import { meshSpent } from './accounting-report.ts'
import { BullSide } from './bullmq.ts'
import type { CompareContext } from './context.ts'
import { type Daemon, recordsSigned, startDaemons, stopDaemons } from './daemons.ts'
import { mapLimit, pollCount } from './measure.ts'

/**
 * How often the measured run asks whether every task is done, ms, on either system. The makespan
 * comes from the records' and jobs' own end times, so a rare question costs no precision, and each
 * costs the daemons a `GET /status` (at 20 ms, 2 % of the submitting daemon's busy time in the run).
 */
export const RUN_POLL_MS = 250

/** Slots of the skewed run on either system: 2 × 16. */
const PROCESSES = 2
const SLOTS = 16
const BATCH = 500

/** Makespan of a skewed run against the ideal (all work spread evenly over every slot). */
export interface SkewedRun {
  tasks: number
  makespanMs: number
  idealMs: number
  ratio: number
  /** Tasks each process ran. */
  perProcess: number[]
  failed: number
  /** Every measured round's makespan / ideal, in order; the figures above are the median round's. */
  rounds: number[]
  accounting?: AccountingSnapshot
  /** Tasks the accounting spans (every measured round). */
  accountedTasks?: number
  /** Where the median round's slot time went (runs from the records' and jobs' own stamps). */
  slotTime?: SlotTime
}

/** One task's run in a skewed round, as its record or job has it. */
export interface TaskRun {
  /** The process that ran it (its peer id, or BullMQ's worker name). */
  by: string
  /** Start and end of its run, ms since the epoch. */
  startedAt: number
  finishedAt: number
  /** The sleep it asked for, ms. */
  ms: number
}

/** Measured rounds of the skewed workload on the same processes, after the warm-up; the median counts. */
export function measuredRounds(quick: boolean): number {
  return quick ? 1 : 3
}

/** The median round (by makespan / ideal) of `runs`, with every round's ratio. */
export function medianRun(runs: SkewedRun[]): SkewedRun {
  return { ...middle(runs, (r) => r.ratio), rounds: runs.map((r) => r.ratio) }
}

/** The skewed workload: the simulation scenario's lognormal sleeps (median 20 ms), from its seed. */
export function workload(quick: boolean): SimulationConfig & { durations: number[] } {
  const base = SCENARIOS.skewed
  const config = { ...base, tasks: quick ? Math.ceil(base.tasks / 4) : base.tasks }
  const random = seededRandom(config.seed ?? 1)
  return {
    ...config,
    durations: Array.from({ length: config.tasks }, () => sampleDuration(config.duration, random)),
  }
}

/**
 * Sleeps both systems run before the measured one, on the same processes: a daemon runs for days,
 * and a run of a few seconds on processes started just before it times V8 compiling the hot paths
 * on the cores the run needs. Measured with `scripts/skew-timeline.ts` (interleaved pairs): after
 * one round of the warm-up below, the daemons' threads other than the event loop (V8's compiler
 * above all) spent 0.65 s of a 1.8 s run and the makespan was 1.25–1.30 × ideal; after five,
 * 0.3 s and 1.14–1.17 (the event loops' own CPU the same, 0.9 s). The workload's first durations,
 * cut to at most `WARM_UP_MAX_MS` (`warmUpDurations`, as the simulation's): the same paths (intake, steals, records), a fraction of
 * the time. `rounds` repeats them.
 */
export function warmup(quick: boolean, rounds = WARMUP_ROUNDS): number[] {
  const pattern = workload(quick).durations.slice(0, quick ? 250 : 1_000)
  return warmUpDurations(pattern, rounds * pattern.length)
}

/**
 * Every warm-up both systems run before the measured run, one list of sleeps after another: the
 * short {@link warmup}, then the measured workload itself `full` times. The short sleeps leave V8
 * compiling what only the real run makes hot (a submission's 2,000 queued tasks, their steals):
 * `scripts/skew-timeline.ts`, 2 interleaved pairs, without / with one full round after the short
 * ones: threads other than the event loops 0.28 / 0.17 s per daemon, run-queue waits of the event
 * loops 0.31–0.42 / 0.23–0.25 s, makespan 1.137 / 1.102 and 1.123 / 1.089 × ideal.
 */
export function warmups(quick: boolean, full = FULL_WARMUP_ROUNDS, rounds = WARMUP_ROUNDS): number[][] {
  const { durations } = workload(quick)
  return [warmup(quick, rounds), ...Array.from({ length: full }, () => durations)]
}

/** Rounds of the measured workload itself both systems run before it is measured. */
export const FULL_WARMUP_ROUNDS = 1

/** Rounds of the warm-up sleeps {@link warmup} gives by default. */
export const WARMUP_ROUNDS = 5

/** The ideal makespan: all the work spread evenly over `slots`, or the longest task. */
export function ideal(durations: number[], slots: number): number {
  return Math.max(durations.reduce((a, b) => a + b, 0) / slots, Math.max(...durations))
}

/**
 * A round's figures from its task runs: makespan from `t0` to the last end, against the ideal, and
 * where the slot time went (each process has {@link SLOTS} slots; `order` names the processes).
 */
export function skewedRun(t0: number, runs: TaskRun[], order: string[], failed: number): SkewedRun {
  const makespanMs = Math.max(...runs.map((r) => r.finishedAt)) - t0
  const idealMs = ideal(
    runs.map((r) => r.ms),
    order.length * SLOTS,
  )
  const slotRuns: SlotRun[] = runs.map((r) => ({
    node: order.indexOf(r.by),
    startMs: r.startedAt - t0,
    endMs: r.finishedAt - t0,
    nominalMs: r.ms,
  }))
  return {
    tasks: runs.length,
    makespanMs,
    idealMs,
    ratio: makespanMs / idealMs,
    perProcess: order.map((p) => runs.filter((r) => r.by === p).length),
    failed,
    rounds: [makespanMs / idealMs],
    slotTime: slotTime(
      slotRuns.filter((r) => r.node >= 0),
      order.map(() => SLOTS),
      makespanMs,
    ),
  }
}

/** Submits a sleep of each duration at `at` (HTTP, batches of 500, one after another); their ids. */
export async function submitSleeps(at: Daemon, durations: number[]): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < durations.length; i += BATCH) {
    ids.push(
      ...(await at.submit(durations.slice(i, i + BATCH).map((ms) => ({ type: 'sleep', input: { ms } })))),
    )
  }
  return ids
}

/** Runs the warm-up sleeps `warm` at the first of `daemons` and waits for every result. */
export async function warmUp(daemons: Daemon[], warm: number[]): Promise<void> {
  const signed = () => recordsSigned(daemons)
  const base = await signed()
  await submitSleeps(daemons[0], warm)
  await pollCount(signed, base + warm.length, 20, 120_000, 'taskmesh warm-up: results signed')
}

/**
 * taskmesh: 2 daemon processes × 16 slots; every task submitted at the first (HTTP, batches of 500,
 * one after another), after the {@link warmups} on the same daemons. Makespan: from the first
 * request to the last record's `finishedAt`; {@link measuredRounds} rounds, the median counts.
 */
export async function taskmeshSkewed(
  ctx: CompareContext,
  flags: string[],
  label: string,
): Promise<SkewedRun> {
  const { durations } = workload(ctx.quick)
  const daemons = await startDaemons(
    Array.from({ length: PROCESSES }, (_, i) => ({ name: `${label}-skewed-${i}`, slots: SLOTS })),
    { dir: join(ctx.dir, `${label}-skewed`), swarmKey: ctx.swarmKey, extraFlags: flags, log: ctx.log },
  )
  try {
    const [a] = daemons
    const signed = () => recordsSigned(daemons)
    for (const warm of warmups(ctx.quick)) {
      ctx.log(`taskmesh ${label}: skewed warm-up, ${warm.length} sleeps at one daemon`)
      await warmUp(daemons, warm)
    }
    const before = await Promise.all(daemons.map((d) => d.status()))
    const runs: SkewedRun[] = []
    for (let round = 1; round <= measuredRounds(ctx.quick); round++) {
      ctx.log(
        `taskmesh ${label}: skewed round ${round}, ${durations.length} sleeps at one daemon of ${PROCESSES}`,
      )
      const base = await signed()
      const t0 = Date.now()
      const ids = await submitSleeps(a, durations)
      await pollCount(signed, base + ids.length, RUN_POLL_MS, 120_000, 'taskmesh skewed: results signed')
      const records = await mapLimit(ids, 16, (id) => a.result(id, 10_000))
      const missing = records.filter((r) => r === undefined).length
      if (missing > 0)
        throw new Error(`taskmesh skewed: ${missing} results not readable at the submitting daemon`)
      const ok = records as Array<{ status: string; executor: string; startedAt: number; finishedAt: number }>
      runs.push(
        skewedRun(
          t0,
          ok.map((r, i) => ({
            by: r.executor,
            startedAt: r.startedAt,
            finishedAt: r.finishedAt,
            ms: durations[i],
          })),
          daemons.map((d) => d.peerId),
          ok.filter((r) => r.status !== 'succeeded').length,
        ),
      )
    }
    const after = await Promise.all(daemons.map((d) => d.status()))
    return {
      ...medianRun(runs),
      accounting: meshSpent(
        before.map((s) => s.accounting),
        after.map((s) => s.accounting),
      ),
      accountedTasks: runs.length * durations.length,
    }
  } finally {
    await stopDaemons(daemons)
  }
}

/**
 * BullMQ: 2 worker processes × concurrency 16 with a sleep processor; the producer adds the same
 * durations in batches of 500, one after another, after the {@link warmups} on the same workers
 * (its jobs cleaned away). Makespan: to the last job's `finishedOn`; {@link measuredRounds} rounds,
 * the median counts.
 */
export async function bullSkewed(ctx: CompareContext): Promise<SkewedRun> {
  const { durations } = workload(ctx.quick)
  const side = await BullSide.start(ctx.redis, 'skewed', PROCESSES, SLOTS, 'sleep', ctx.log)
  try {
    for (const warm of warmups(ctx.quick)) {
      ctx.log(`bullmq: skewed warm-up, ${warm.length} sleeps`)
      await bullSleeps(side, warm, 50, false)
    }
    const runs: SkewedRun[] = []
    for (let round = 1; round <= measuredRounds(ctx.quick); round++) {
      ctx.log(`bullmq: skewed round ${round}, ${durations.length} sleeps, ${PROCESSES} workers × ${SLOTS}`)
      const t0 = Date.now()
      const jobs = await bullSleeps(side, durations, RUN_POLL_MS, true)
      const by = jobs.map((j) => j.processedBy ?? '')
      runs.push(
        skewedRun(
          t0,
          jobs.map((j, i) => ({
            by: by[i],
            startedAt: j.processedOn ?? Number.NaN,
            finishedAt: j.finishedOn ?? Number.NaN,
            ms: (j.data as { ms: number }).ms,
          })),
          [...new Set(by)],
          0,
        ),
      )
    }
    return medianRun(runs)
  } finally {
    await side.stop()
  }
}

/**
 * Adds a sleep job per duration (batches of {@link BATCH}, one after another), waits until every one
 * is completed (asking every `pollMs`), and cleans them away; returns them when `read` (else none).
 */
async function bullSleeps(side: BullSide, sleeps: number[], pollMs: number, read: boolean) {
  await side.add(
    sleeps.map((ms) => ({ name: 'sleep', data: { ms } })),
    BATCH,
    1,
    sleeps.length,
  )
  await pollCount(() => side.completed(), sleeps.length, pollMs, 120_000, 'bullmq skewed: jobs completed')
  const jobs = read ? await side.queue.getJobs(['completed'], 0, -1) : []
  await side.queue.clean(0, sleeps.length, 'completed')
  return jobs
}

/** The median of `values` (the lower middle one of an even count); NaN when there are none. */
export function median(values: number[]): number {
  return values.length === 0 ? Number.NaN : middle(values, (v) => v)
}

/** The middle one of `items` ordered by `by` (the lower middle one of an even count). */
function middle<T>(items: T[], by: (item: T) => number): T {
  const sorted = [...items].sort((x, y) => by(x) - by(y))
  return sorted[Math.floor((sorted.length - 1) / 2)]
}

import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { QueueEvents } from 'bullmq'
import type { AccountingSnapshot } from '../../src/node/accounting/accounting.ts'
import { DEFAULT_RECORD_COPIES } from '../../src/protocol/constants.ts'
import { meshSpent } from './accounting-report.ts'
import { BullSide } from './bullmq.ts'
import type { CompareContext, Latency } from './context.ts'
import { awaitMesh, copiesStored, type Daemon, recordsSigned, startDaemons, stopDaemons } from './daemons.ts'
import { type CpuSpent, cpuSpent, mapLimit, percentiles, pollCount, sampleCpu, sleep } from './measure.ts'

/** Tasks per HTTP request / per addBulk. */
export const BATCH = 500
/** Daemons (and BullMQ workers) of the no-op run, and taskmesh slots per daemon. */
export const PROCESSES = 3
export const SLOTS = 16
/** Gap between latency samples, ms: one task at a time, the system idle in between. */
const LATENCY_GAP_MS = 20
/** Results read back at a daemon other than the one that took the task. */
const VERIFY_SAMPLE = 300

/** Figures of one no-op session on either system. */
export interface NoopRun {
  tasks: number
  tasksPerSec: number
  cpu: CpuSpent
  /** Results sampled and found (taskmesh: read at another daemon; BullMQ: the job's return value). */
  verified: { sampled: number; found: number }
  local: Latency
  /** taskmesh only: a task only another daemon can run (one steal hop). */
  hop?: Latency & { offHop: number }
  /** taskmesh only: what the measured run cost every daemon, summed. */
  accounting?: AccountingSnapshot
  /**
   * taskmesh only: what the one-hop latency samples cost every daemon, summed (a steal asked of the
   * owner by a daemon that cannot run the task shows here).
   */
  hopAccounting?: AccountingSnapshot
}

/**
 * Each system first runs `warmup` no-ops on the same processes, unmeasured: a deployment runs for
 * days. 5,000, as the skewed run's warm-up: after 1,000 both were still faster run to run (two
 * alternating pairs here: BullMQ 6,736–7,886 → 10,705–11,303 no-ops/s and 0.227–0.257 → 0.148–0.159
 * CPU-s per 1,000; taskmesh with `sync` 2,139–2,470 → 2,703–2,870/s, 0.778–0.896 → 0.665–0.705).
 */
const counts = (quick: boolean) => ({
  warmup: quick ? 300 : 5_000,
  tasks: quick ? 3_000 : 20_000,
  latency: quick ? 50 : 200,
})

/** Submits `count` no-ops in batches spread over the daemons (one request in flight per daemon). */
async function submitSpread(daemons: Daemon[], count: number): Promise<Array<{ id: string; at: number }>> {
  const batches = Math.ceil(count / BATCH)
  const step = Math.ceil(count / VERIFY_SAMPLE)
  const sample: Array<{ id: string; at: number }> = []
  await Promise.all(
    daemons.map(async (d, at) => {
      for (let b = at; b < batches; b += daemons.length) {
        const n = Math.min(BATCH, count - b * BATCH)
        const ids = await d.submit(Array.from({ length: n }, () => ({ type: 'noop' })))
        for (let i = 0; i < ids.length; i += step) sample.push({ id: ids[i], at })
      }
    }),
  )
  return sample
}

/**
 * Copies of each record the no-op mesh keeps: its executor's and one at each peer it copies to —
 * one at each daemon by default (replicas ≥ daemons − 1), fewer under `--record-copies`.
 */
export function copiesPerRecord(flags: string[]): number {
  const at = flags.findIndex((f) => f === '--record-copies' || f.startsWith('--record-copies='))
  const given = at < 0 ? undefined : flags[at].includes('=') ? flags[at].split('=')[1] : flags[at + 1]
  return Math.min(PROCESSES, (given === undefined ? DEFAULT_RECORD_COPIES : Number(given)) + 1)
}

/** Submits `count` no-ops spread over the daemons; done once every result and every copy is stored. */
export async function timedThroughput(
  daemons: Daemon[],
  count: number,
  copiesEach: number,
): Promise<{ ms: number; sample: Array<{ id: string; at: number }> }> {
  const base = await recordsSigned(daemons)
  const copies = await copiesStored(daemons)
  const t0 = performance.now()
  const sample = await submitSpread(daemons, count)
  await pollCount(() => recordsSigned(daemons), base + count, 50, 300_000, 'taskmesh: results signed')
  // done once every copy is written too: replicas lagging behind the run would flatter it
  await pollCount(
    () => copiesStored(daemons),
    copies + copiesEach * count,
    50,
    300_000,
    'taskmesh: copies stored',
  )
  return { ms: performance.now() - t0, sample }
}

/** Limits each daemon's profile summary to the measured run (see scripts/cpu-profile-summary.ts). */
export async function profileWindows(
  dir: string,
  daemons: Daemon[],
  from: number,
  to: number,
): Promise<void> {
  for (const d of daemons) {
    await mkdir(join(dir, d.name), { recursive: true })
    const window = { fromMs: from - d.spawnedAt, toMs: to - d.spawnedAt }
    await writeFile(join(dir, d.name, 'window.json'), JSON.stringify(window))
  }
}

async function taskmeshLatency(at: Daemon, type: string, samples: number, expectExecutor?: string) {
  const ms: number[] = []
  let offHop = 0
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now()
    // submit and wait in one request, as a BullMQ producer's QueueEvents is subscribed already
    const [record] = await at.submitAndWait([{ type }], 10_000)
    if (record === null) throw new Error(`taskmesh latency: no ${type} result within 10 s`)
    ms.push(performance.now() - t0)
    if (expectExecutor !== undefined && record.executor !== expectExecutor) offHop++
    await sleep(LATENCY_GAP_MS)
  }
  return { ...percentiles(ms), samples, offHop }
}

/**
 * taskmesh: 3 daemon processes × 16 slots, bootstrapped to each other (the third also runs
 * `remote-noop`). No-ops go in over HTTP in batches spread over the daemons; the run ends when
 * every result is signed and stored by its executor. Then latency, one task at a time: a no-op at
 * the first daemon (runs there), and a `remote-noop` there (only the third can run it: one steal hop).
 */
export async function taskmeshNoop(ctx: CompareContext, flags: string[], label: string): Promise<NoopRun> {
  const n = counts(ctx.quick)
  const daemons = await startDaemons(
    Array.from({ length: PROCESSES }, (_, i) => ({
      name: `${label}-${i}`,
      slots: SLOTS,
      handlers: i === PROCESSES - 1 ? [join(import.meta.dirname, 'handlers.mjs')] : [],
    })),
    {
      dir: join(ctx.dir, label),
      swarmKey: ctx.swarmKey,
      extraFlags: flags,
      profileDir: ctx.profileDir,
      log: ctx.log,
    },
  )
  try {
    const pids = Object.fromEntries(daemons.map((d) => [d.name, d.pid]))
    ctx.log(`taskmesh ${label}: warm-up, ${n.warmup} no-ops`)
    await timedThroughput(daemons, n.warmup, copiesPerRecord(flags))
    ctx.log(`taskmesh ${label}: ${n.tasks} no-ops`)
    const before = await Promise.all(daemons.map((d) => d.status()))
    const cpu0 = sampleCpu(pids)
    const t0 = performance.now()
    const run = await timedThroughput(daemons, n.tasks, copiesPerRecord(flags))
    const cpu = cpuSpent(cpu0, sampleCpu(pids))
    if (ctx.profileDir !== undefined) await profileWindows(ctx.profileDir, daemons, t0, performance.now())
    const after = await Promise.all(daemons.map((d) => d.status()))
    const sample = run.sample.slice(0, VERIFY_SAMPLE)
    const found = await mapLimit(sample, 16, async ({ id, at }) => {
      const record = await daemons[(at + 1) % daemons.length].result(id, 10_000)
      return record?.status === 'succeeded'
    })
    ctx.log(`taskmesh ${label}: latency, ${n.latency} + ${n.latency} tasks one at a time`)
    await awaitMesh(daemons) // a daemon busy with the run may have let a silent peer go for a while
    const local = await taskmeshLatency(daemons[0], 'noop', n.latency)
    await awaitMesh(daemons, { offers: daemons[PROCESSES - 1], type: 'remote-noop' })
    const beforeHop = await Promise.all(daemons.map((d) => d.status()))
    const hop = await taskmeshLatency(daemons[0], 'remote-noop', n.latency, daemons[PROCESSES - 1].peerId)
    const afterHop = await Promise.all(daemons.map((d) => d.status()))
    return {
      tasks: n.tasks,
      tasksPerSec: n.tasks / (run.ms / 1000),
      cpu,
      verified: { sampled: sample.length, found: found.filter(Boolean).length },
      local,
      hop,
      accounting: meshSpent(
        before.map((s) => s.accounting),
        after.map((s) => s.accounting),
      ),
      hopAccounting: meshSpent(
        beforeHop.map((s) => s.accounting),
        afterHop.map((s) => s.accounting),
      ),
    }
  } finally {
    await stopDaemons(daemons)
  }
}

/** Latency at a `QueueEvents` subscriber: `queue.add` → its `completed` event. */
async function bullLatency(side: BullSide, events: QueueEvents, samples: number): Promise<Latency> {
  const seen = new Map<string, number>()
  const waiting = new Map<string, (t: number) => void>()
  events.on('completed', ({ jobId }) => {
    const t = performance.now()
    const w = waiting.get(jobId)
    if (w === undefined) seen.set(jobId, t)
    else w(t)
  })
  const ms: number[] = []
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now()
    const job = await side.queue.add('noop', {})
    const id = job.id as string
    const t1 =
      seen.get(id) ??
      (await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`bullmq latency: job ${id} not completed in 10 s`)),
          10_000,
        )
        waiting.set(id, (t) => {
          clearTimeout(timer)
          resolve(t)
        })
      }))
    waiting.delete(id)
    ms.push(t1 - t0)
    await sleep(LATENCY_GAP_MS)
  }
  return { ...percentiles(ms), samples }
}

/**
 * BullMQ: 3 worker processes (concurrency `ctx.bullConcurrency` each) and a producer process that
 * adds the same no-ops with `addBulk`, in batches of the same size, 3 in flight. Jobs keep their
 * return value (removeOnComplete off: the result stays readable, as taskmesh's does). The run ends
 * when the queue counts every job completed. Then latency: add → `completed` at a `QueueEvents`.
 */
export async function bullNoop(ctx: CompareContext): Promise<NoopRun> {
  const n = counts(ctx.quick)
  const side = await BullSide.start(ctx.redis, 'noop', PROCESSES, ctx.bullConcurrency, 'noop', ctx.log)
  try {
    const timed = async (count: number) => {
      const base = await side.completed()
      const t0 = performance.now()
      const sample = await side.add(
        { count, name: 'noop' },
        BATCH,
        PROCESSES,
        Math.ceil(count / VERIFY_SAMPLE),
      )
      await pollCount(() => side.completed(), base + count, 50, 300_000, 'bullmq: jobs completed')
      return { ms: performance.now() - t0, sample }
    }
    ctx.log(`bullmq: warm-up, ${n.warmup} no-ops`)
    await timed(n.warmup)
    ctx.log(`bullmq: ${n.tasks} no-ops`)
    const pids = side.pids
    const cpu0 = sampleCpu(pids)
    const run = await timed(n.tasks)
    const cpu = cpuSpent(cpu0, sampleCpu(pids))
    const found = await mapLimit(
      run.sample,
      16,
      async (id) => (await side.queue.getJob(id))?.finishedOn !== undefined,
    )
    ctx.log(`bullmq: latency, ${n.latency} jobs one at a time`)
    const events = await side.events()
    try {
      const local = await bullLatency(side, events, n.latency)
      return {
        tasks: n.tasks,
        tasksPerSec: n.tasks / (run.ms / 1000),
        cpu,
        verified: { sampled: run.sample.length, found: found.filter(Boolean).length },
        local,
      }
    } finally {
      await events.close()
    }
  } finally {
    await side.stop()
  }
}

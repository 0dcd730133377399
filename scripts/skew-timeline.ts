/**
 * Where the skewed 2-daemon run of `bench:compare` loses its time: the same workload (2,000
 * lognormal sleeps, median 20 ms, all submitted at the first of 2 daemons × 16 slots), then every
 * task's start and end from its result record. Prints the makespan against the ideal, each
 * daemon's CPU during the run (from `/proc`), how busy each daemon's slots were per 100 ms, and how
 * much longer than its sleep each task held its slot (the overrun: the inline `sleep` handler's
 * timer runs late on a busy event loop) — in the first 500 ms, while the batches go in, and after.
 *
 *   npm run build && npx tsx scripts/skew-timeline.ts [--runs 3] [--profile <dir>] [--cold] [-- <daemon flags>]
 *
 * The daemons first run `bench:compare`'s skewed warm-up (short sleeps, the same paths; `--warm-rounds
 * <n>` times its 1,000, 5 by default; then the workload itself `--warm-full <n>` times, once by
 * default) unless `--cold`: then the run also times V8 compiling the hot paths. Each run also
 * prints how long each daemon's main thread (its event loop; the rest is V8's compiler and GC
 * threads and libuv's pool) ran and how long it waited, runnable, for a core (the scheduler's
 * schedstat: the daemons and their threads share 2 cores), each thread's time, datastore batches
 * per task, and the loop's lag.
 *
 * `--profile <dir>` runs the daemons under `node --cpu-prof` and writes each one's run window, for
 * `npx tsx scripts/cpu-profile-summary.ts <dir>`.
 */
import '../src/polyfill.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { datastoreBatches, recordsSigned, startDaemons, stopDaemons, taskmeshCli } from './compare/daemons.ts'
import { cpuSpent, mapLimit, pollCount, sampleCpu } from './compare/measure.ts'
import { profileWindows } from './compare/noop.ts'
import { mainThreadSched, threadKinds } from './compare/processes.ts'
import {
  FULL_WARMUP_ROUNDS,
  ideal,
  RUN_POLL_MS,
  submitSleeps,
  WARMUP_ROUNDS,
  warmUp,
  warmups,
  workload,
} from './compare/skewed.ts'

const SLOTS = 16
const EARLY_MS = 500

interface Run {
  executor: 'A' | 'B'
  start: number
  end: number
  sleep: number
}

const { values, positionals } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    profile: { type: 'string' },
    cold: { type: 'boolean' },
    'warm-rounds': { type: 'string', default: String(WARMUP_ROUNDS) },
    'warm-full': { type: 'string', default: String(FULL_WARMUP_ROUNDS) },
  },
  allowPositionals: true,
})
const runs = Number(values.runs)
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: a whole number >= 1, got ${values.runs}`)

const { durations } = workload(false)
const idealMs = ideal(durations, 2 * SLOTS)

function overrun(all: Run[], who: 'A' | 'B', from: number, to: number): string {
  const some = all.filter((r) => r.executor === who && r.start >= from && r.start < to)
  const over = some.map((r) => r.end - r.start - r.sleep).sort((x, y) => x - y)
  const mean = over.reduce((sum, o) => sum + o, 0) / Math.max(1, over.length)
  const at = (q: number) => over[Math.min(over.length - 1, Math.floor(q * over.length))] ?? Number.NaN
  return `${who} ${some.length} tasks, mean overrun ${mean.toFixed(2)} ms (p50 ${at(0.5)}, p90 ${at(0.9)}, p99 ${at(0.99)})`
}

/** Tick of prom-client's event-loop delay monitor (its default), ms: a delay reads as tick + lag. */
const LAG_TICK_MS = 10

/** The event loop's lag since the last read of `metrics`, from prom-client's default metrics. */
function loopLag(metrics: string): string {
  const ms = (name: string) =>
    1000 * Number(metrics.match(new RegExp(`^nodejs_eventloop_lag_${name}_seconds ([0-9.e+-]+)$`, 'm'))?.[1])
  return `mean ${(ms('mean') - LAG_TICK_MS).toFixed(1)} ms, p99 ${(ms('p99') - LAG_TICK_MS).toFixed(1)} ms`
}

function busySlots(all: Run[], who: 'A' | 'B', makespan: number): string {
  const out: string[] = []
  for (let t = 0; t < makespan; t += 100) {
    const busy = all
      .filter((r) => r.executor === who)
      .reduce((sum, r) => sum + Math.max(0, Math.min(r.end, t + 100) - Math.max(r.start, t)), 0)
    out.push((busy / 100).toFixed(1))
  }
  return out.join(' ')
}

async function once(dir: string, swarmKey: string, run: number): Promise<void> {
  const profileDir = values.profile === undefined ? undefined : join(values.profile, `run-${run}`)
  const daemons = await startDaemons(
    ['A', 'B'].map((name) => ({ name, slots: SLOTS })),
    { dir: join(dir, `run-${run}`), swarmKey, extraFlags: positionals, profileDir, log: () => undefined },
  )
  const [a, b] = daemons
  try {
    const signed = () => recordsSigned(daemons)
    const warm = values.cold ? [] : warmups(false, Number(values['warm-full']), Number(values['warm-rounds']))
    for (const sleeps of warm) await warmUp(daemons, sleeps)
    const base = await signed()
    const batches0 = await datastoreBatches(daemons)
    const pids = { A: a.pid, B: b.pid }
    await Promise.all(daemons.map((d) => d.metrics())) // the loop lag counts from here
    const main0 = [a.pid, b.pid].map(mainThreadSched)
    const kinds0 = [a.pid, b.pid].map(threadKinds)
    const cpu0 = sampleCpu(pids)
    const from = performance.now()
    const t0 = Date.now()
    const ids = await submitSleeps(a, durations)
    await pollCount(signed, base + ids.length, RUN_POLL_MS, 120_000, 'results signed')
    const cpu = cpuSpent(cpu0, sampleCpu(pids))
    const batches = (await datastoreBatches(daemons)).map((n, i) => (n - batches0[i]) / ids.length)
    const main = [a.pid, b.pid].map((pid, i) => {
      const now = mainThreadSched(pid)
      return { ran: now.ranS - main0[i].ranS, waited: now.waitedS - main0[i].waitedS }
    })
    const kinds = [a.pid, b.pid].map((pid, i) =>
      [...threadKinds(pid)]
        .map(([kind, ran]) => ({ kind, ran: ran - (kinds0[i].get(kind) ?? 0) }))
        .filter((k) => k.ran >= 0.005)
        .map((k) => `${k.kind} ${k.ran.toFixed(2)}`)
        .join(', '),
    )
    const lag = await Promise.all(daemons.map(async (d) => loopLag(await d.metrics())))
    if (profileDir !== undefined) await profileWindows(profileDir, daemons, from, performance.now())
    const read = await mapLimit(ids, 16, (id) => a.result(id, 10_000))
    if (read.includes(undefined)) throw new Error('a result is not readable at the first daemon')
    const records = read as unknown as Array<{
      executor: string
      finishedAt: number
      attempts: Array<{ startedAt: number }>
    }>
    const all: Run[] = records.map((r, i) => ({
      executor: r.executor === a.peerId ? 'A' : 'B',
      start: r.attempts[r.attempts.length - 1].startedAt - t0,
      end: r.finishedAt - t0,
      sleep: durations[i],
    }))
    const makespan = Math.max(...all.map((r) => r.end))
    const first = (who: string) => Math.min(...all.filter((r) => r.executor === who).map((r) => r.start))
    console.log(
      `run ${run}: makespan ${makespan} ms, ideal ${idealMs.toFixed(0)} ms, ratio ${(makespan / idealMs).toFixed(3)}; ` +
        `CPU A ${cpu.processes.A.toFixed(2)} s, B ${cpu.processes.B.toFixed(2)} s, ` +
        `${((1000 * cpu.total) / ids.length).toFixed(2)} ms per task; first start A ${first('A')} ms, B ${first('B')} ms`,
    )
    console.log(
      `  main thread (event loop) ran A ${main[0].ran.toFixed(2)} s, B ${main[1].ran.toFixed(2)} s, and waited ` +
        `runnable for a core A ${main[0].waited.toFixed(2)} s, B ${main[1].waited.toFixed(2)} s; the rest of the ` +
        `CPU is V8's compiler and GC threads and libuv's pool. Loop lag A ${lag[0]}; B ${lag[1]}`,
    )
    console.log(`  threads (s), A: ${kinds[0]}; B: ${kinds[1]}`)
    console.log(`  datastore batches per task: A ${batches[0].toFixed(3)}, B ${batches[1].toFixed(3)}`)
    console.log(
      `  starts in the first ${EARLY_MS} ms: ${overrun(all, 'A', 0, EARLY_MS)}; ${overrun(all, 'B', 0, EARLY_MS)}`,
    )
    console.log(
      `  starts after: ${overrun(all, 'A', EARLY_MS, Infinity)}; ${overrun(all, 'B', EARLY_MS, Infinity)}`,
    )
    console.log(`  busy slots per 100 ms, A: ${busySlots(all, 'A', makespan)}`)
    console.log(`  busy slots per 100 ms, B: ${busySlots(all, 'B', makespan)}`)
  } finally {
    await stopDaemons(daemons)
  }
}

const dir = await mkdtemp(join(tmpdir(), 'taskmesh-skew-'))
try {
  const swarmKey = join(dir, 'swarm.key')
  taskmeshCli(['swarm-key', swarmKey])
  for (let run = 1; run <= runs; run++) await once(dir, swarmKey, run)
} finally {
  await rm(dir, { recursive: true, force: true })
}

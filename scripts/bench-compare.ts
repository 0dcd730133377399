/**
 * taskmesh beside BullMQ on Redis: the same workloads on both, on this machine, in one run; each
 * figure is printed for both systems with their ratio and the target.
 *
 *   npm run bench:compare -- [--quick] [--json] [--only noop,skewed,simulation]
 *                            [--profile <dir>] [--daemon-flags "<flags>"] [--bullmq-concurrency <n>]
 *                            [--variants "<flags>; <flags>…"]
 *
 * It starts its own redis-server (persistence off) on a free 127.0.0.1 port and its own daemons, and
 * stops them. `--daemon-flags` are passed to every taskmesh daemon; when `taskmesh daemon` offers
 * `--durability`, the taskmesh side runs once per setting (`sync`, `os`); with `--variants`, once per
 * entry instead (each entry's flags, an empty one the defaults), all against the same BullMQ run
 * (`--variants "; --record-copies 0; --record-copies 0 --custodians 0"`: what durability costs).
 * `--profile <dir>` runs the
 * no-op daemons under `node --cpu-prof` and prints a summary of their profiles. Exit code 2 when
 * redis-server is missing or the run fails (a missed target is not a failure).
 */
import '../src/polyfill.ts'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { slotTimeLine } from '../src/simulation/report-text.ts'
import { threadCpuLine } from '../src/simulation/thread-cpu.ts'
import { gitState } from './bench/report.ts'
import { formatPerTask, perTask } from './compare/accounting-report.ts'
import { BULLMQ_VERSION } from './compare/bullmq.ts'
import type { CompareContext } from './compare/context.ts'
import { daemonFlags, taskmeshCli } from './compare/daemons.ts'
import { bullNoop, taskmeshNoop } from './compare/noop.ts'
import { atMost, noopPairs, ratioAtMost, skewedPairs } from './compare/pairs.ts'
import { findRedisServer, RedisMissingError, startRedis } from './compare/redis.ts'
import { formatPairs, type Pair, pair } from './compare/report.ts'
import { type SimulationRun, simulations } from './compare/simulation-runs.ts'
import { bullSkewed, median, type SkewedRun, taskmeshSkewed } from './compare/skewed.ts'
import { variantsOf } from './compare/variants.ts'
import { summarizeProfiles } from './cpu-profile-summary.ts'

const WORKLOADS = ['noop', 'skewed', 'simulation'] as const
type Workload = (typeof WORKLOADS)[number]
const log = (line: string) => process.stderr.write(`${line}\n`)

function usage(): string {
  return (
    'usage: npm run bench:compare -- [--quick] [--json] [--only noop,skewed,simulation] ' +
    '[--profile <dir>] [--daemon-flags "<flags>"] [--bullmq-concurrency <n>] [--variants "<flags>; <flags>…"]'
  )
}

/** A command line the comparison cannot run: the message names the option. */
class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** `--daemon-flags <flags>` as `--daemon-flags=<flags>` (and `--variants`): parseArgs refuses a separate value that starts with a dash. */
function joinFlagValues(argv: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    if ((argv[i] === '--daemon-flags' || argv[i] === '--variants') && i + 1 < argv.length)
      out.push(`${argv[i]}=${argv[++i]}`)
    else out.push(argv[i])
  }
  return out
}

function parse() {
  try {
    return parseArgs({
      args: joinFlagValues(process.argv.slice(2)),
      options: {
        json: { type: 'boolean', default: false },
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        profile: { type: 'string' },
        'daemon-flags': { type: 'string', default: '' },
        variants: { type: 'string' },
        'bullmq-concurrency': { type: 'string', default: '50' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

function options() {
  const { values } = parse()
  const only = (values.only ?? WORKLOADS.join(',')).split(',').map((s) => s.trim())
  const unknown = only.filter((w) => !(WORKLOADS as readonly string[]).includes(w))
  if (unknown.length > 0)
    throw new UsageError(`--only: unknown workload(s) ${unknown.join(', ')} (use ${WORKLOADS.join(',')})`)
  const concurrency = Number(values['bullmq-concurrency'])
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new UsageError(
      `--bullmq-concurrency must be a positive integer, got "${values['bullmq-concurrency']}"`,
    )
  }
  return {
    ...values,
    only: new Set(only as Workload[]),
    concurrency,
    daemonFlags: values['daemon-flags'].split(/\s+/).filter((f) => f !== ''),
  }
}

async function main(): Promise<number> {
  const opts = options()
  if (opts.help) {
    log(usage())
    return 0
  }
  findRedisServer()
  const started = new Date()
  const load0 = loadavg()[0]
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-compare-'))
  const profileDir = opts.profile === undefined ? undefined : resolve(opts.profile)
  if (profileDir !== undefined) await mkdir(profileDir, { recursive: true })
  const swarmKey = join(dir, 'swarm.key')
  taskmeshCli(['swarm-key', swarmKey])
  const redis = await startRedis(() => undefined)
  const ctx: CompareContext = {
    quick: opts.quick,
    dir,
    swarmKey,
    redis,
    profileDir,
    bullConcurrency: opts.concurrency,
    log,
  }
  const pairs: Pair[] = []
  const accounting: Record<string, Record<string, number>> = {}
  const runs: Record<string, unknown> = {}
  try {
    const sides = variantsOf(opts.daemonFlags, opts.variants, daemonFlags().has('--durability'))
    if (opts.only.has('noop')) {
      const bq = await bullNoop(ctx)
      runs['no-op bullmq'] = bq
      for (const v of sides) {
        const tm = await taskmeshNoop(ctx, v.flags, v.label)
        runs[`no-op ${v.label}`] = tm
        pairs.push(...noopPairs(v.label, tm, bq, opts.concurrency))
        if (tm.accounting !== undefined) accounting[`no-op ${v.label}`] = perTask(tm.accounting, tm.tasks)
        if (tm.hopAccounting !== undefined && tm.hop !== undefined)
          accounting[`one hop ${v.label}`] = perTask(tm.hopAccounting, tm.hop.samples)
      }
    }
    let bqSkewed: SkewedRun | undefined
    if (opts.only.has('skewed') || opts.only.has('simulation')) {
      bqSkewed = await bullSkewed(ctx)
      runs['skewed bullmq'] = bqSkewed
    }
    if (opts.only.has('skewed') && bqSkewed !== undefined) {
      for (const v of sides) {
        const tm = await taskmeshSkewed(ctx, v.flags, v.label)
        runs[`skewed ${v.label}`] = tm
        pairs.push(...skewedPairs(v.label, tm, bqSkewed))
        if (tm.accounting !== undefined)
          accounting[`skewed ${v.label}`] = perTask(tm.accounting, tm.accountedTasks ?? tm.tasks)
      }
    }
    if (opts.only.has('simulation')) {
      const sim = await simulations(ctx)
      runs.simulation = sim
      const ratios = (list: SimulationRun[]) => list.map((r) => r.ratio)
      pairs.push(
        pair(
          'simulation (8 × 4, one process)',
          'skewed makespan / ideal',
          'ratio',
          median(ratios(sim.skewed)),
          bqSkewed?.ratio ?? null,
          [atMost(1.1), ratioAtMost(1)],
          `${simulationRuns(sim.skewed)}; BullMQ: the 2 workers × 16 run above (32 slots, the same durations)`,
        ),
        pair(
          'simulation (8 × 4, one process)',
          'heterogeneous makespan / ideal',
          'ratio',
          median(ratios(sim.heterogeneous)),
          null,
          [atMost(1.15)],
          `${simulationRuns(sim.heterogeneous)}; slots 1–8, speeds 0.5–2×; no BullMQ counterpart`,
        ),
      )
    }
  } finally {
    await redis.stop()
    await rm(dir, { recursive: true, force: true })
  }
  const meta = {
    startedAt: started.toISOString(),
    durationS: (Date.now() - started.getTime()) / 1000,
    quick: opts.quick,
    git: gitState(),
    node: process.version,
    cpus: availableParallelism(),
    loadavg: { start: load0, end: loadavg()[0] },
    bullmq: BULLMQ_VERSION,
    redis: execFileSync(findRedisServer(), ['--version'], { encoding: 'utf8' }).trim(),
  }
  const profile = profileDir === undefined ? undefined : await summarizeProfiles(profileDir)
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ meta, pairs, accountingPerTask: accounting, runs, profile }, null, 2)}\n`,
    )
    return 0
  }
  const out = [formatPairs(pairs)]
  if (Object.keys(accounting).length > 0) out.push('', formatPerTask(accounting))
  if (profile !== undefined) out.push('', `CPU profile of the no-op daemons (${profileDir}):`, profile.text)
  out.push(
    '',
    `${meta.startedAt}, ${meta.durationS.toFixed(0)} s${opts.quick ? ' (--quick)' : ''}; commit ${meta.git.commit ?? '?'}${meta.git.dirty ? ' + uncommitted changes' : ''}; ` +
      `node ${meta.node}, ${meta.cpus} cpus, load ${meta.loadavg.start.toFixed(2)}→${meta.loadavg.end.toFixed(2)}; BullMQ ${meta.bullmq}; ${meta.redis.split(' ').slice(0, 3).join(' ')}`,
    'Figures from a shared machine are noisy: compare ratios, and run when the load average is low.',
  )
  process.stdout.write(`${out.join('\n')}\n`)
  return 0
}

main().then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError) log(`${err.message}\n${usage()}`)
    else if (err instanceof RedisMissingError) log(err.message)
    else log(err instanceof Error ? (err.stack ?? err.message) : String(err))
    process.exit(2)
  },
)

/**
 * `median of 3 runs (1.34, 1.20, 1.21); the median run's slot time: work 80 %, runs overran it 13 %,
 * …; its CPU: node loops 2.25 CPU-s, helper threads 0.85 CPU-s (27 %: …), simulation 0.04 CPU-s`
 */
function simulationRuns(list: SimulationRun[]): string {
  const middle = [...list].sort((a, b) => a.ratio - b.ratio)[Math.floor((list.length - 1) / 2)]
  const ratios = list.map((r) => r.ratio.toFixed(2)).join(', ')
  if (middle === undefined) return 'no runs'
  const slots = `the median run's slot time: ${slotTimeLine(middle.slotTime)}`
  return `median of ${list.length} runs (${ratios}); ${slots}; its CPU: ${threadCpuLine(middle.threads)}`
}

/**
 * taskmesh benchmark: runs each scenario on real libp2p nodes (TCP on 127.0.0.1) in this process
 * and prints every figure beside its target.
 *
 *   npx tsx scripts/bench.ts [--json] [--only name,name] [--quick] [--scaling]
 *
 * `--json` prints one JSON document (a `figures` array, one object per figure) instead of the
 * table; `--quick` shrinks the workloads about 4×. `--scaling` runs the scaling table alone (8, 32 and
 * 100 nodes; not part of the default run, it takes minutes). A scenario that throws is reported and the
 * rest still run; the exit code is 1 when any scenario errored (a missed target is not an error).
 */
import '../src/polyfill.ts'
import { setMaxListeners } from 'node:events'
import { availableParallelism, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { type BenchContext, type Figure, MeshTracker, type Scenario } from './bench/common.ts'
import { constraints } from './bench/constraints.ts'
import { priority } from './bench/priority.ts'
import { type BenchReport, formatTable, gitState, type ScenarioError } from './bench/report.ts'
import { scaling } from './bench/scaling.ts'
import { heterogeneous, skewed } from './bench/simulations.ts'
import { idleToFirstSteal, latency } from './bench/steal-latency.ts'
import { stealOrder } from './bench/steal-order.ts'
import { throughput } from './bench/throughput.ts'

/** Scenarios in run order, by the key `--only` takes. */
const SCENARIOS: Array<[string, Scenario]> = [
  ['skewed', skewed],
  ['heterogeneous', heterogeneous],
  ['idle-steal', idleToFirstSteal],
  ['latency', latency],
  ['throughput', throughput],
  ['priority', priority],
  ['steal-order', stealOrder],
  ['constraints', constraints],
]

/** Scenarios run only when named (`--only`, or `--scaling`): they take many minutes. */
const ON_REQUEST: Array<[string, Scenario]> = [['scaling', scaling]]

function usage(): string {
  const names = [...SCENARIOS, ...ON_REQUEST].map(([k]) => k).join(',')
  return `usage: npx tsx scripts/bench.ts [--json] [--quick] [--scaling] [--only ${names}]`
}

function selectScenarios(only: string | undefined): Array<[string, Scenario]> {
  if (only === undefined) return SCENARIOS
  const all = [...SCENARIOS, ...ON_REQUEST]
  const wanted = only
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  const unknown = wanted.filter((w) => !all.some(([k, s]) => k === w || s.name === w))
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')}\n${usage()}`)
  return all.filter(([k, s]) => wanted.includes(k) || wanted.includes(s.name))
}

const log = (message: string) => process.stderr.write(`${message}\n`)

/** Runs one scenario under its time limit; its nodes are stopped whatever happens. */
async function runOne(scenario: Scenario, quick: boolean): Promise<Figure[]> {
  const tracker = new MeshTracker()
  const controller = new AbortController()
  setMaxListeners(Number.POSITIVE_INFINITY, controller.signal)
  const ctx: BenchContext = {
    quick,
    signal: controller.signal,
    log: (m) => log(`  ${m}`),
    mesh: async (opts) => {
      const t0 = performance.now()
      const nodes = await tracker.start(opts)
      log(`  (${opts.nodes}-node mesh up in ${((performance.now() - t0) / 1000).toFixed(1)} s)`)
      return nodes
    },
    stop: (nodes) => tracker.stop(nodes),
  }
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort(new Error('scenario timed out'))
      reject(new Error(`timed out after ${scenario.timeoutMs / 1000} s`))
    }, scenario.timeoutMs)
  })
  try {
    return await Promise.race([scenario.run(ctx), timeout])
  } finally {
    clearTimeout(timer)
    await tracker.stopAll()
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      scaling: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    log(usage())
    return 0
  }
  const selected = selectScenarios(values.scaling === true ? 'scaling' : values.only)
  const quick = values.quick === true
  const started = performance.now()
  const report: BenchReport = {
    quick,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    node: process.version,
    cpus: availableParallelism(),
    git: gitState(),
    loadavg: { start: loadavg()[0], end: 0 },
    scenarios: [],
    figures: [],
    errors: [],
    summary: { figures: 0, pass: 0, miss: 0, errors: 0 },
  }
  let current = ''
  const errors: ScenarioError[] = report.errors
  process.on('unhandledRejection', (reason) => {
    const error = `unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`
    log(`  ${error}`)
    errors.push({ scenario: current || '(between scenarios)', error })
  })
  for (const [key, scenario] of selected) {
    current = scenario.name
    log(`▶ ${scenario.name}${quick ? ' (quick)' : ''}`)
    const t0 = performance.now()
    let ok = true
    try {
      report.figures.push(...(await runOne(scenario, quick)))
    } catch (err) {
      ok = false
      const error = err instanceof Error ? (err.stack ?? err.message) : String(err)
      errors.push({ scenario: scenario.name, error })
      log(`  error in ${key}: ${error}`)
    }
    const ms = performance.now() - t0
    report.scenarios.push({ scenario: scenario.name, durationMs: ms, ok })
    log(`${ok ? '✓' : '✗'} ${scenario.name} (${(ms / 1000).toFixed(1)} s)`)
  }
  current = ''
  report.durationMs = performance.now() - started
  report.loadavg.end = loadavg()[0]
  report.summary = {
    figures: report.figures.length,
    pass: report.figures.filter((f) => f.pass === true).length,
    miss: report.figures.filter((f) => f.pass === false).length,
    errors: errors.length,
  }
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `\n${formatTable(report)}\n`)
  return errors.length > 0 ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(err instanceof Error ? err.message : String(err))
    process.exit(2)
  },
)

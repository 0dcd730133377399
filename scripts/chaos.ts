import '../src/polyfill.ts'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { runChaos } from './chaos/run-chaos.ts'
import { describeProblems, summarize } from './chaos/summary.ts'

/**
 * The long chaos run: `npx tsx scripts/chaos.ts [--nodes 5] [--tasks 10000] [--duration 120]
 * [--interval 4] [--cut 6] [--seed 1] [--slots 4] [--json] [--keep]`. N daemons on 127.0.0.1 run a workload
 * submitted through every node while the nemesis kills (SIGKILL), freezes (SIGSTOP past the lease
 * TTL) or parts one or two nodes from the rest (deny lists naming every node across, `--cut` s)
 * every `--interval` seconds for `--duration` seconds, healing each fault later; then every node
 * is healed, every result awaited and the history checked. Prints the figures (a table, or JSON) and
 * exits 1 if a task was lost or anything unexpected happened.
 */
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5' },
    tasks: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '120' },
    interval: { type: 'string', default: '4' },
    cut: { type: 'string', default: '6' },
    seed: { type: 'string', default: '1' },
    slots: { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
})

function positive(name: string, text: string | undefined): number {
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${text}`)
  return n
}

const nodes = positive('nodes', values.nodes)
const tasks = positive('tasks', values.tasks)
const durationMs = positive('duration', values.duration) * 1_000
const intervalMs = positive('interval', values.interval) * 1_000
const cutMs = positive('cut', values.cut) * 1_000
const seed = positive('seed', values.seed)
const slots = positive('slots', values.slots)
/** Lease TTL and beacon interval: short, so failures are noticed in seconds, yet long enough that a
 * node starved of CPU for a moment on a loaded machine is not taken for dead. */
const LEASE_TTL_MS = 3_000
const BEACON_MS = 500
const batch = 20
const submitters = 3

const root = await mkdtemp(join(tmpdir(), 'taskmesh-chaos-'))
const log = values.json ? () => undefined : (line: string) => console.error(line)
try {
  const report = await runChaos({
    cluster: {
      root,
      nodes,
      slots,
      leaseTtlMs: LEASE_TTL_MS,
      beaconMs: BEACON_MS,
      bootstrapPeers: nodes - 1,
      args: ['--max-executor-losses', '1000'],
    },
    workload: {
      tasks,
      batch,
      submitters,
      // spread the submissions over the nemesis's whole schedule
      pauseMs: Math.max(0, Math.floor((durationMs * submitters * batch) / tasks) - 20),
      taskMs: { min: 5, max: 50 },
    },
    nemesis: {
      ...{ durationMs, intervalMs, downMs: 2_500, frozenMs: 4_000, freezeShare: 0.25 },
      ...{ cutShare: 0.2, cutMs, cutPart: 2 },
    },
    seed,
    settleMs: 3_000,
    drainMs: 60_000,
    sample: 200,
    log,
  })
  const summary = summarize(report)
  if (values.keep) await writeFile(join(root, 'report.json'), JSON.stringify(report))
  if (values.json) console.log(JSON.stringify({ seed, nodes, ...summary }, null, 2))
  else {
    for (const [k, v] of Object.entries(summary)) console.log(`${k.padEnd(24)} ${v}`)
    const crashP95 = summary.crashReexecutionP95Ms
    console.log(
      `crash → re-execution p95 ${(crashP95 / 1000).toFixed(2)} s, target ≤ 2 s: ${crashP95 <= 2_000 ? 'met' : 'missed'}`,
    )
    if (report.verdict.problems.length > 0) console.log(`${describeProblems(report)}\n${report.evidence}`)
  }
  process.exitCode = summary.lost + summary.unexpected > 0 ? 1 : 0
} finally {
  if (!values.keep) await rm(root, { recursive: true, force: true })
  else console.error(`kept ${root}`)
}

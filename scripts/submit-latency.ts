/**
 * Where a submission's latency goes, in one process on an idle event loop: `submitMany` of one
 * no-op until its result, at a node alone and at a node with 2 peers (its custodians, which must
 * acknowledge the task before `submit` answers), without and with a data dir (the journal, synced
 * or not). The difference between the rows is the custody round trip and the journal; what a
 * daemon adds on top is its HTTP API. Beside the wall time, each row shows the CPU time the process
 * spent per submission and the share of the submission's wall time its event loop was busy (ELU):
 * an ELU near 1 means the figure is CPU work of the nodes sharing this thread, not waiting.
 *
 * `--gap` sets the pause between submissions (20 ms, as `bench:compare` waits; 0: back to back): on
 * this VM a process that idled between requests runs the next one several times slower.
 *
 * `npx tsx scripts/submit-latency.ts [--samples 100] [--gap 20]`
 */
import '../src/polyfill.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { TaskmeshNode } from '../src/node/taskmesh-node.ts'
import { quantile } from '../src/simulation/random.ts'

const { values } = parseArgs({
  options: { samples: { type: 'string', default: '100' }, gap: { type: 'string', default: '20' } },
})
const samples = Number(values.samples)
if (!Number.isInteger(samples) || samples < 10)
  throw new Error(`--samples: a whole number >= 10, got ${values.samples}`)
const gapMs = Number(values.gap)
if (!Number.isInteger(gapMs) || gapMs < 0)
  throw new Error(`--gap: a whole number of ms >= 0, got ${values.gap}`)

/** A submission measured `samples` times (after 20 not counted), one at a time, `gapMs` apart. */
async function measure(peers: number, durability: 'none' | 'os' | 'sync'): Promise<string> {
  const dir = durability === 'none' ? undefined : await mkdtemp(join(tmpdir(), 'taskmesh-latency-'))
  const node = await TaskmeshNode.create({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    ...(durability === 'none' || dir === undefined ? {} : { dataDir: dir, durability }),
  })
  const others: TaskmeshNode[] = []
  try {
    for (let i = 0; i < peers; i++) {
      others.push(
        await TaskmeshNode.create({
          listen: ['/ip4/127.0.0.1/tcp/0'],
          bootstrap: node.multiaddrs.map(String),
        }),
      )
    }
    // custodians are chosen among the peers that serve custody: wait until both are
    while (node.status().custody.custodians.length < Math.min(peers, 2)) {
      await node.submit({ type: 'noop' }).then((h) => h.result())
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const ms: number[] = []
    const cpu: number[] = []
    const busy: number[] = []
    for (let i = 0; i < samples + 20; i++) {
      const cpu0 = process.cpuUsage()
      const elu0 = performance.eventLoopUtilization()
      const t0 = performance.now()
      const [handle] = await node.submitMany([{ type: 'noop', input: i }])
      await handle.result()
      if (i >= 20) {
        ms.push(performance.now() - t0)
        const used = process.cpuUsage(cpu0)
        cpu.push((used.user + used.system) / 1000)
        busy.push(performance.eventLoopUtilization(elu0).utilization)
      }
      await new Promise((resolve) => (gapMs === 0 ? setImmediate(resolve) : setTimeout(resolve, gapMs)))
    }
    const f = (values: number[], q: number, digits = 2) => quantile(values, q).toFixed(digits).padStart(8)
    return `${String(peers).padStart(5)}  ${durability.padEnd(10)}  ${f(ms, 0.5)}  ${f(ms, 0.9)}  ${f(cpu, 0.5)}  ${f(busy, 0.5)}`
  } finally {
    for (const n of [...others, node]) await n.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  }
}

console.log(
  'peers  journal     p50 (ms)  p90 (ms)  CPU (ms)  ELU p50   submit → result of one no-op, one process',
)
for (const [peers, durability] of [
  [0, 'none'],
  [0, 'os'],
  [0, 'sync'],
  [2, 'none'],
  [2, 'sync'],
] as const) {
  console.log(await measure(peers, durability))
}

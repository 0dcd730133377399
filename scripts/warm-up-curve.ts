/**
 * How long each system of the no-op comparison takes to reach its steady cost: the same shapes as
 * `bench:compare`'s no-op run (3 taskmesh daemons × 16 slots submitted over HTTP in batches of
 * 500; 3 BullMQ workers with a producer on a fresh redis-server), run in consecutive blocks on the
 * same processes, each block's CPU-seconds per 1,000 no-ops (every process of the system, from
 * `/proc`) and rate printed beside the other system's. The comparison's warm-up should end where
 * both are flat: a deployment runs for days, and a JIT still compiling is not what it costs.
 *
 *   npx tsx scripts/warm-up-curve.ts [--blocks 12] [--block 5000] [--bullmq-concurrency 50]
 */
import '../src/polyfill.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { BullSide } from './compare/bullmq.ts'
import { startDaemons, stopDaemons, taskmeshCli } from './compare/daemons.ts'
import { cpuSpent, pollCount, sampleCpu } from './compare/measure.ts'
import { BATCH, copiesPerRecord, PROCESSES, SLOTS, timedThroughput } from './compare/noop.ts'
import { startRedis } from './compare/redis.ts'

const { values } = parseArgs({
  options: {
    blocks: { type: 'string', default: '12' },
    block: { type: 'string', default: '5000' },
    'bullmq-concurrency': { type: 'string', default: '50' },
  },
})
const blocks = Number(values.blocks)
const block = Number(values.block)
const concurrency = Number(values['bullmq-concurrency'])
if (![blocks, block, concurrency].every((n) => Number.isInteger(n) && n > 0)) {
  console.error('usage: npx tsx scripts/warm-up-curve.ts [--blocks n] [--block n] [--bullmq-concurrency n]')
  process.exit(2)
}

/** One block's figures: CPU-seconds per 1,000 tasks and tasks per second. */
interface Block {
  cpuPer1000: number
  perSec: number
}

async function measureBlocks(
  pids: Record<string, number>,
  runBlock: () => Promise<unknown>,
): Promise<Block[]> {
  const out: Block[] = []
  for (let b = 0; b < blocks; b++) {
    const cpu0 = sampleCpu(pids)
    const t0 = performance.now()
    await runBlock()
    const ms = performance.now() - t0
    out.push({
      cpuPer1000: (cpuSpent(cpu0, sampleCpu(pids)).total / block) * 1000,
      perSec: block / (ms / 1000),
    })
  }
  return out
}

const dir = await mkdtemp(join(tmpdir(), 'taskmesh-warm-'))
const redis = await startRedis(() => undefined)
try {
  const swarmKey = join(dir, 'swarm.key')
  taskmeshCli(['swarm-key', swarmKey])
  const daemons = await startDaemons(
    Array.from({ length: PROCESSES }, (_, i) => ({ name: `tm-${i}`, slots: SLOTS })),
    { dir, swarmKey, extraFlags: [], log: () => undefined },
  )
  let taskmesh: Block[]
  try {
    const pids = Object.fromEntries(daemons.map((d) => [d.name, d.pid]))
    taskmesh = await measureBlocks(pids, () => timedThroughput(daemons, block, copiesPerRecord([])))
  } finally {
    await stopDaemons(daemons)
  }
  const side = await BullSide.start(redis, 'warm', PROCESSES, concurrency, 'noop', () => undefined)
  let bullmq: Block[]
  try {
    bullmq = await measureBlocks(side.pids, async () => {
      const base = await side.completed()
      await side.add({ count: block, name: 'noop' }, BATCH, PROCESSES)
      await pollCount(() => side.completed(), base + block, 50, 300_000, 'bullmq: jobs completed')
    })
  } finally {
    await side.stop()
  }
  console.log(`no-ops done before the block | taskmesh CPU-s/1,000, /s | BullMQ CPU-s/1,000, /s | CPU ratio`)
  for (let b = 0; b < blocks; b++) {
    const t = taskmesh[b]
    const q = bullmq[b]
    console.log(
      `${String(b * block).padStart(27)} | ${t.cpuPer1000.toFixed(3)}, ${t.perSec.toFixed(0).padStart(6)} | ${q.cpuPer1000.toFixed(3)}, ${q.perSec.toFixed(0).padStart(6)} | ${(t.cpuPer1000 / q.cpuPer1000).toFixed(2)}×`,
    )
  }
} finally {
  await redis.stop()
  await rm(dir, { recursive: true, force: true })
}

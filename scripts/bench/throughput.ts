import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import {
  atLeast,
  type BenchContext,
  countInDht,
  deadline,
  exactly,
  type Figure,
  figuresOf,
  type Scenario,
  waitResults,
} from './common.ts'

const BATCH = 500
const SLOTS = 4

interface Run {
  /** Tasks per second until every result was known at its submitter. */
  knownPerSec: number
  /** Tasks per second until every result was also stored in the DHT (flushResults on all nodes). */
  storedPerSec: number
  ids: string[]
}

/** Submits `count` no-ops round-robin at `nodes` in batches and times results known / stored. */
async function drive(nodes: TaskmeshNode[], count: number, signal: AbortSignal): Promise<Run> {
  const t0 = performance.now()
  const waits: Promise<unknown>[] = []
  const ids: string[] = []
  for (let i = 0, k = 0; i < count; i += BATCH, k++) {
    const node = nodes[k % nodes.length]
    const handles = await node.submitMany(
      Array.from({ length: Math.min(BATCH, count - i) }, () => ({ type: 'noop' })),
    )
    const batchIds = handles.map((h) => h.id)
    ids.push(...batchIds)
    waits.push(waitResults(node, batchIds, signal))
  }
  await Promise.all(waits)
  const known = performance.now() - t0
  await Promise.all(nodes.map((n) => n.flushResults()))
  const stored = performance.now() - t0
  return { knownPerSec: count / (known / 1000), storedPerSec: count / (stored / 1000), ids }
}

/**
 * No-op throughput through 3 nodes (submitted round-robin at all three), against the same count
 * on one node with no peers, both measured in this run.
 */
export const throughput: Scenario = {
  name: 'throughput',
  timeoutMs: 180_000,
  async run(ctx: BenchContext): Promise<Figure[]> {
    const f = figuresOf(this.name)
    const count = ctx.quick ? 5_000 : 20_000
    const warmup = 1_000
    const signal = deadline(150_000, ctx.signal)

    ctx.log(`throughput: ${count} no-ops on one node (baseline)`)
    const [lone] = await ctx.mesh({ nodes: 1, slots: SLOTS })
    await drive([lone], warmup, signal)
    const base = await drive([lone], count, signal)
    await ctx.stop([lone])

    ctx.log(`throughput: ${count} no-ops through 3 nodes`)
    const nodes = await ctx.mesh({ nodes: 3, slots: SLOTS })
    await drive(nodes, warmup, signal)
    const before = nodes.map((n) => n.status().counters)
    const mesh = await drive(nodes, count, signal)
    const after = nodes.map((n) => n.status().counters)
    const executed = after.map((c, i) => c.executed - before[i].executed)
    const stolen = after.reduce((s, c, i) => s + c.tasksStolen - before[i].tasksStolen, 0)
    const sample = mesh.ids.filter((_, i) => i % Math.ceil(mesh.ids.length / 300) === 0)
    const found = await countInDht(nodes[1], sample)

    return [
      f('tasks/s, results known at submitter', mesh.knownPerSec, 'tasks/s', {
        baseline: { figure: 'one node, no peers', value: base.knownPerSec },
        note: `${count} no-ops, ${SLOTS} slots per node, batches of ${BATCH}`,
      }),
      f('tasks/s, every result stored in the DHT', mesh.storedPerSec, 'tasks/s', {
        target: atLeast(7_600),
        baseline: { figure: 'one node, no peers', value: base.storedPerSec },
      }),
      f('baseline tasks/s, results known (1 node)', base.knownPerSec, 'tasks/s'),
      f('baseline tasks/s, results stored (1 node)', base.storedPerSec, 'tasks/s'),
      f('tasks stolen', stolen, 'tasks', { note: `executed per node ${executed.join(' ')}` }),
      f('sampled results found in the DHT', found, 'records', {
        target: exactly(sample.length),
        note: 'DHT get (cache skipped) at the second node',
      }),
    ]
  },
}

import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { DEFAULT_AGING, type QueuePolicy, STRICT_PRIORITY } from '../../src/policy/priority.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import type { TaskSpecInput } from '../../src/task/spec.ts'
import {
  atMost,
  type BenchContext,
  deadline,
  type Figure,
  figuresOf,
  percentiles,
  type Scenario,
  sleep,
  waitResults,
} from './common.ts'

const NODES = 2
const SLOTS = 2
const TASK_MS = 20
/** Top-priority arrivals as a multiple of the mesh's capacity. */
const OVERLOAD = 1.3
/** One lowest-priority task every this many ms. */
const LOW_EVERY_MS = 100
const TICK_MS = 20

interface PolicyRun {
  lowWaits: number[]
  /** Waits of the lowest-priority tasks a node other than their owner ran (stolen). */
  lowStolenWaits: number[]
  /** Waits of the lowest-priority tasks their owner ran. */
  lowOwnWaits: number[]
  highWaits: number[]
  /** Tasks queued on all nodes when the load stopped (the load did saturate if > 0). */
  backlog: number
}

const formatMs = (ms: number) => (Number.isNaN(ms) ? 'n/a' : `${Math.round(ms)} ms`)

const spec = (priority: number): TaskSpecInput => ({ type: 'sleep', input: { ms: TASK_MS }, priority })

/**
 * Streams top-priority work at `OVERLOAD` × the mesh's capacity plus a trickle of lowest-priority
 * tasks for `loadMs`, each tick's batch at the next node in turn (every node's queue saturates).
 */
async function drive(nodes: TaskmeshNode[], loadMs: number, signal: AbortSignal): Promise<PolicyRun> {
  const ratePerSec = (OVERLOAD * NODES * SLOTS * 1000) / TASK_MS
  const low = nodes.map(() => [] as string[])
  const high = nodes.map(() => [] as string[])
  let highCount = 0
  let lowCount = 0
  const start = performance.now()
  for (let elapsed = 0, tick = 0; elapsed < loadMs; elapsed = performance.now() - start, tick++) {
    const highDue = Math.floor((elapsed / 1000) * ratePerSec) - highCount
    const lowDue = Math.floor(elapsed / LOW_EVERY_MS) + 1 - lowCount
    const at = tick % nodes.length
    const specs = [
      ...Array.from({ length: highDue }, () => spec(1000)),
      ...Array.from({ length: lowDue }, () => spec(-1000)),
    ]
    if (specs.length > 0) {
      const handles = await nodes[at].submitMany(specs)
      for (const h of handles) (h.task.spec.priority === 1000 ? high : low)[at].push(h.id)
      highCount += highDue
      lowCount += lowDue
    }
    await sleep(TICK_MS)
  }
  const backlog = nodes.reduce((sum, n) => sum + n.status().queued, 0)
  const records = async (ids: string[][]) =>
    (await Promise.all(nodes.map((n, i) => waitResults(n, ids[i], signal)))).flat()
  const [lows, highs] = await Promise.all([records(low), records(high)])
  const wait = (r: ResultRecord) => r.startedAt - r.submittedAt
  return {
    lowWaits: lows.map(wait),
    lowStolenWaits: lows.filter((r) => r.executor !== r.owner).map(wait),
    lowOwnWaits: lows.filter((r) => r.executor === r.owner).map(wait),
    highWaits: highs.map(wait),
    backlog,
  }
}

/**
 * Lowest-priority waits (startedAt − submittedAt) under saturating top-priority load on a small
 * mesh, the default aging policy against strict priority.
 */
export const priority: Scenario = {
  name: 'priority',
  timeoutMs: 120_000,
  async run(ctx: BenchContext): Promise<Figure[]> {
    const f = figuresOf(this.name)
    const loadMs = ctx.quick ? 4_000 : 6_000
    const runs = new Map<string, PolicyRun>()
    for (const [name, policy] of [
      ['aging', DEFAULT_AGING],
      ['strict', STRICT_PRIORITY],
    ] as Array<[string, QueuePolicy]>) {
      ctx.log(`priority: ${name}, ${loadMs} ms of load`)
      const nodes = await ctx.mesh({
        nodes: NODES,
        slots: SLOTS,
        nodeOptions: () => ({ queuePolicy: policy }),
      })
      runs.set(name, await drive(nodes, loadMs, deadline(60_000, ctx.signal)))
      await ctx.stop(nodes)
    }
    const aging = runs.get('aging')!
    const strict = runs.get('strict')!
    const al = percentiles(aging.lowWaits)
    const sl = percentiles(strict.lowWaits)
    const ah = percentiles(aging.highWaits)
    const sh = percentiles(strict.highWaits)
    const load = `${NODES} nodes × ${SLOTS} slots, ${TASK_MS} ms sleeps at ${OVERLOAD}× capacity for ${loadMs} ms, one priority −1000 task per ${LOW_EVERY_MS} ms, batches to each node in turn`
    return [
      f('lowest-priority p99 wait, aging', al.p99, 'ms', {
        target: atMost(5_000),
        baseline: { figure: 'strict', value: sl.p99 },
        note: load,
      }),
      f('lowest-priority p50 wait, aging', al.p50, 'ms', { note: `${aging.lowWaits.length} tasks` }),
      f('lowest-priority p99 wait of stolen ones, aging', percentiles(aging.lowStolenWaits).p99, 'ms', {
        note: `${aging.lowStolenWaits.length} of ${aging.lowWaits.length} ran at a thief; p99 of those run by their owner ${formatMs(percentiles(aging.lowOwnWaits).p99)}`,
      }),
      f('lowest-priority p99 wait, strict', sl.p99, 'ms', {
        note: 'starves until the top-priority stream ends',
      }),
      f('lowest-priority p50 wait, strict', sl.p50, 'ms'),
      f('top-priority p99 wait, aging', ah.p99, 'ms', { baseline: { figure: 'strict', value: sh.p99 } }),
      f('top-priority p99 wait, strict', sh.p99, 'ms'),
      f('backlog when load stopped, aging / strict', aging.backlog, 'tasks', {
        note: `strict ${strict.backlog}; > 0 means the load saturated the mesh`,
      }),
    ]
  },
}

import type { StealOrder } from '../../src/policy/queue.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { seededRandom } from '../../src/simulation/random.ts'
import {
  type BenchContext,
  deadline,
  type Figure,
  figuresOf,
  percentiles,
  type Scenario,
  waitResults,
} from './common.ts'

const THIEVES = 3
const SLOTS = 2
const TASK_MS = 20
/** Share of the workload that is urgent (priority 1000); the rest is priority 0. */
const URGENT_SHARE = 0.2

interface OrderRun {
  urgentWaits: number[]
  normalWaits: number[]
  makespanMs: number
}

/**
 * One owner (2 slots) gets a burst of mixed-priority work, three idle thieves (2 slots each) steal
 * from it in `order`; the waits (start − submit) of urgent and normal tasks tell which order serves
 * priority better, the makespan whether it costs throughput.
 */
async function runOrder(ctx: BenchContext, order: StealOrder, tasks: number): Promise<OrderRun> {
  const nodes = await ctx.mesh({
    nodes: 1 + THIEVES,
    slots: SLOTS,
    nodeOptions: () => ({ stealOrder: order }),
  })
  try {
    const random = seededRandom(11)
    const specs = Array.from({ length: tasks }, () => ({
      type: 'sleep',
      input: { ms: TASK_MS },
      priority: random() < URGENT_SHARE ? 1000 : 0,
    }))
    const started = performance.now()
    const handles = await nodes[0].submitMany(specs)
    const records = await waitResults(
      nodes[0],
      handles.map((h) => h.id),
      deadline(60_000, ctx.signal),
    )
    const makespanMs = performance.now() - started
    const wait = (r: ResultRecord) => r.startedAt - r.submittedAt
    return {
      urgentWaits: records.filter((_, i) => specs[i].priority === 1000).map(wait),
      normalWaits: records.filter((_, i) => specs[i].priority === 0).map(wait),
      makespanMs,
    }
  } finally {
    await ctx.stop(nodes)
  }
}

/** Which queued tasks a victim should hand a thief: the most urgent, or those it would reach last. */
export const stealOrder: Scenario = {
  name: 'steal order',
  timeoutMs: 180_000,
  async run(ctx) {
    const tasks = ctx.quick ? 200 : 600
    const f = figuresOf('steal order')
    const figures: Figure[] = []
    const runs = new Map<StealOrder, OrderRun>()
    for (const order of ['least-urgent', 'most-urgent'] as const) {
      ctx.log(
        `${order}: ${tasks} tasks (${URGENT_SHARE * 100} % urgent) at one node, ${THIEVES} idle thieves`,
      )
      runs.set(order, await runOrder(ctx, order, tasks))
    }
    const least = runs.get('least-urgent') as OrderRun
    const most = runs.get('most-urgent') as OrderRun
    for (const [order, run] of runs) {
      const urgent = percentiles(run.urgentWaits)
      const normal = percentiles(run.normalWaits)
      const base = order === 'most-urgent' ? least : undefined
      figures.push(
        f(`${order}: urgent wait p50`, urgent.p50, 'ms', {
          baseline: base && {
            figure: 'least-urgent: urgent wait p50',
            value: percentiles(base.urgentWaits).p50,
          },
        }),
        f(`${order}: urgent wait p99`, urgent.p99, 'ms', {
          baseline: base && {
            figure: 'least-urgent: urgent wait p99',
            value: percentiles(base.urgentWaits).p99,
          },
        }),
        f(`${order}: normal wait p50`, normal.p50, 'ms'),
        f(`${order}: normal wait p99`, normal.p99, 'ms'),
        f(`${order}: makespan`, run.makespanMs, 'ms', {
          baseline: base && { figure: 'least-urgent: makespan', value: base.makespanMs },
        }),
      )
    }
    ctx.log(
      `urgent p99: most-urgent ${Math.round(percentiles(most.urgentWaits).p99)} ms vs least-urgent ${Math.round(percentiles(least.urgentWaits).p99)} ms`,
    )
    return figures
  },
}

import type { ResultRecord } from '../../src/protocol/result-record.ts'
import type { TaskSpecInput } from '../../src/task/spec.ts'
import {
  type BenchContext,
  deadline,
  exactly,
  type Figure,
  figuresOf,
  type Scenario,
  waitResults,
} from './common.ts'

const LABELS = [[], ['gpu'], []]

const task = (labels: string[]): TaskSpecInput => ({
  type: 'sleep',
  input: { ms: 5 },
  resources: { slots: 1, memoryMb: 0, labels },
})

/**
 * Three nodes, only the middle one labelled `gpu`. Tasks needing `gpu` are submitted at both
 * unlabelled nodes, beside plain work everywhere so every node is busy and steals. Counts records
 * (and attempts) whose executor lacks a label the task needed.
 */
export const constraints: Scenario = {
  name: 'constraints',
  timeoutMs: 120_000,
  async run(ctx: BenchContext): Promise<Figure[]> {
    const f = figuresOf(this.name)
    const scale = ctx.quick ? 0.25 : 1
    const n = (x: number) => Math.ceil(x * scale)
    const nodes = await ctx.mesh({ nodes: 3, slots: 4, nodeOptions: (i) => ({ labels: LABELS[i] }) })
    const labelsOf = new Map(nodes.map((node, i) => [node.peerId, LABELS[i]]))
    const plan: Array<[number, string[], number]> = [
      [0, ['gpu'], n(400)],
      [0, [], n(400)],
      [2, ['gpu'], n(100)],
      [1, [], n(200)],
      [2, [], n(100)],
    ]
    const signal = deadline(90_000, ctx.signal)
    const submitted = await Promise.all(
      plan.map(async ([at, labels, count]) => {
        const handles = await nodes[at].submitMany(Array.from({ length: count }, () => task(labels)))
        return { at, labels, ids: handles.map((h) => h.id) }
      }),
    )
    const results = await Promise.all(
      submitted.map(async (s) => ({ ...s, records: await waitResults(nodes[s.at], s.ids, signal) })),
    )
    let violations = 0
    let attemptViolations = 0
    let needing = 0
    let failed = 0
    const lacks = (executor: string, needed: string[]) =>
      needed.some((l) => !(labelsOf.get(executor) ?? []).includes(l))
    for (const { labels, records } of results) {
      for (const r of records as ResultRecord[]) {
        if (labels.length > 0) needing++
        if (r.status !== 'succeeded') failed++
        if (lacks(r.executor, labels)) violations++
        attemptViolations += r.attempts.filter((a) => lacks(a.executor, labels)).length
      }
    }
    const executed = nodes.map((node) => node.status().counters.executed)
    return [
      f('executor lacks a needed label', violations, 'tasks', {
        target: exactly(0),
        note: `${needing} tasks needed gpu (1 of 3 nodes has it); executed per node ${executed.join(' ')}`,
      }),
      f('attempts on a node lacking a label', attemptViolations, 'attempts', { target: exactly(0) }),
      f('tasks failed', failed, 'tasks', { target: exactly(0) }),
    ]
  },
}

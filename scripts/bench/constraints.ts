import type { TaskSpecInput } from '../../src/task/spec.ts'
import {
  type BenchContext,
  collectResults,
  deadline,
  exactly,
  type Figure,
  figuresOf,
  type Scenario,
} from './common.ts'

const LABELS = [[], ['gpu'], []]
/** How long the scenario waits for results before counting the rest as stranded, in ms. */
const WAIT_MS = 10_000

/** Tasks submitted with (`needy`) or without labels. */
const countOf = (results: Array<{ labels: string[]; ids: string[] }>, needy: boolean) =>
  results.filter((r) => r.labels.length > 0 === needy).reduce((s, r) => s + r.ids.length, 0)

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
    // the whole workload takes about a second; what has no result by then is stranded
    const signal = deadline(WAIT_MS, ctx.signal)
    ctx.log('constraints: submitting')
    const submitted = await Promise.all(
      plan.map(async ([at, labels, count]) => {
        const handles = await nodes[at].submitMany(Array.from({ length: count }, () => task(labels)))
        return { at, labels, ids: handles.map((h) => h.id) }
      }),
    )
    ctx.log('constraints: waiting for results')
    const results = await Promise.all(
      submitted.map(async (s) => ({ ...s, ...(await collectResults(nodes[s.at], s.ids, signal)) })),
    )
    let violations = 0
    let attemptViolations = 0
    let failed = 0
    const stranded: string[] = []
    const lacks = (executor: string, needed: string[]) =>
      needed.some((l) => !(labelsOf.get(executor) ?? []).includes(l))
    for (const { at, labels, records, missing } of results) {
      for (const id of missing) stranded.push(`${id} (needs [${labels.join(',')}], owner: node ${at})`)
      for (const r of records) {
        if (r.status !== 'succeeded') failed++
        if (lacks(r.executor, labels)) violations++
        attemptViolations += r.attempts.filter((a) => lacks(a.executor, labels)).length
      }
    }
    const executed = nodes.map((node) => node.status().counters.executed)
    const needing = countOf(results, true)
    return [
      f('executor lacks a needed label', violations, 'tasks', {
        target: exactly(0),
        note: `${needing} tasks needed gpu (1 of 3 nodes has it); executed per node ${executed.join(' ')}`,
      }),
      f('attempts on a node lacking a label', attemptViolations, 'attempts', { target: exactly(0) }),
      f('tasks failed', failed, 'tasks', { target: exactly(0) }),
      f('tasks without a result', stranded.length, 'tasks', {
        target: exactly(0),
        note:
          stranded.length === 0
            ? `all ${needing + countOf(results, false)} results back within ${WAIT_MS / 1000} s`
            : `no result after ${WAIT_MS / 1000} s, e.g. ${stranded[0]}`,
      }),
    ]
  },
}

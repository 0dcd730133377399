/**
 * What a queue's filter costs when it passes over many tasks: 10,000 one-slot tasks queued behind
 * 10,000 four-slot ones, popped with one slot free; 10,000 tasks stolen past 10,000 a thief cannot
 * run and 10,000 held under lease (most-urgent), and 10,000 past 10,000 others (least-urgent) —
 * under both queue policies. Prints ms for each and how many times the filter was asked.
 *
 *   npx tsx scripts/queue-filter-cost.ts [--tasks 10000]
 */
import { parseArgs } from 'node:util'
import { DEFAULT_AGING, STRICT_PRIORITY } from '../src/policy/priority.ts'
import { type StealOrder, TaskQueue } from '../src/policy/queue.ts'
import type { QueuedTask } from '../src/policy/types.ts'

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '10000' } } })
const n = Number(values.tasks)
if (!Number.isInteger(n) || n < 1) throw new Error(`--tasks must be a whole number >= 1, got ${values.tasks}`)

const task = (id: string, type: string, slots: number, at: number, stealable = true): QueuedTask => ({
  id,
  type,
  priority: 0,
  resources: { slots, memoryMb: 0, labels: [] },
  enqueuedAt: at,
  stealable,
})

/** ms to take every task `filter` accepts out of `queue`, and the filter's calls. */
function drain(
  queue: TaskQueue,
  take: (q: TaskQueue, f: (t: QueuedTask) => boolean) => number,
  accept: (t: QueuedTask) => boolean,
) {
  let asked = 0
  const filter = (t: QueuedTask) => {
    asked++
    return accept(t)
  }
  const from = performance.now()
  let taken = 0
  for (let got = take(queue, filter); got > 0; got = take(queue, filter)) taken += got
  return { ms: performance.now() - from, taken, asked }
}

const steal = (order: StealOrder) => (q: TaskQueue, f: (t: QueuedTask) => boolean) =>
  q.takeForSteal(5e6, 4, f, order).length
for (const policy of [DEFAULT_AGING, STRICT_PRIORITY]) {
  const pops = new TaskQueue(policy)
  for (let i = 0; i < n; i++) pops.push(task(`big${i}`, 'echo', 4, i))
  for (let i = 0; i < n; i++) pops.push(task(`one${i}`, 'echo', 1, n + i))
  const pop = drain(
    pops,
    (q, f) => (q.pop(5e6, f) === undefined ? 0 : 1),
    (t) => t.resources.slots <= 1,
  )
  const urgent = new TaskQueue(policy)
  for (let i = 0; i < n; i++) urgent.push(task(`gpu${i}`, 'train', 1, i))
  for (let i = 0; i < n; i++) urgent.push(task(`held${i}`, 'echo', 1, n + i, false))
  for (let i = 0; i < n; i++) urgent.push(task(`cpu${i}`, 'echo', 1, 2 * n + i))
  const most = drain(urgent, steal('most-urgent'), (t) => t.type === 'echo')
  const least = new TaskQueue(policy)
  for (let i = 0; i < n; i++) least.push(task(`gpu${i}`, 'train', 1, i))
  for (let i = 0; i < n; i++) least.push(task(`cpu${i}`, 'echo', 1, n + i))
  const last = drain(least, steal('least-urgent'), (t) => t.type === 'train')
  const line = (what: string, r: ReturnType<typeof drain>) =>
    `  ${what}: ${r.ms.toFixed(1)} ms, ${r.taken} taken, filter asked ${r.asked} times`
  console.log(`${policy.kind}:`)
  console.log(line('pops behind four-slot tasks', pop))
  console.log(line('steals past tasks the thief cannot run and held ones (most-urgent)', most))
  console.log(line('steals past tasks the thief cannot run (least-urgent)', last))
}

import { describe, expect, it } from 'vitest'
import type { OwnedTask } from '../../../src/node/owner/owner-ledger.ts'
import { listTasks, type TaskListSources } from '../../../src/node/watch/task-list.ts'
import { parseTaskSpec } from '../../../src/task/spec.ts'
import type { Task } from '../../../src/task/task.ts'
import { seededRandom } from '../../policy/helpers.ts'

const spec = parseTaskSpec({ type: 'echo' })

/** `n` owned tasks, accepted in a shuffled order (ids and times not in insertion order), some at one time. */
function backlog(n: number): { src: TaskListSources; order: string[] } {
  const random = seededRandom(3)
  const tasks: Task[] = Array.from({ length: n }, (_, i) => ({
    id: `bafkrei${i.toString(32).padStart(8, 'a')}`,
    spec,
    submitter: 'me',
    nonce: String(i),
    owner: 'me',
    submittedAt: 1_000 + Math.floor(i / 3),
  }))
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[tasks[i], tasks[j]] = [tasks[j], tasks[i]]
  }
  const owned: OwnedTask[] = tasks.map((task, i) => ({
    entry: { task, epoch: 0, attempts: [], dependencies: {} },
    state: i % 2 === 0 ? 'queued' : 'running',
    floor: 0,
  }))
  const order = [...tasks]
    .sort((a, b) => a.submittedAt - b.submittedAt || (a.id < b.id ? -1 : 1))
    .map((t) => t.id)
  return {
    src: { waiting: [], owned, unschedulable: () => undefined, settled: [], recordOf: () => undefined },
    order,
  }
}

describe('listTasks over a large backlog', () => {
  it('pages through 100,000 owned tasks: each once, in order; a filter matching none gives an empty page', () => {
    const { src, order } = backlog(100_000)
    const seen: string[] = []
    let page = listTasks(src, { limit: 1_000 })
    seen.push(...page.tasks.map((t) => t.taskId))
    while (page.next !== undefined) {
      page = listTasks(src, { limit: 1_000, after: page.next })
      seen.push(...page.tasks.map((t) => t.taskId))
    }
    expect(seen).toEqual(order)
    expect(listTasks(src, { states: ['failed'] })).toEqual({ tasks: [] })
    const running = listTasks(src, { states: ['running'], limit: 5 })
    expect(running.tasks).toHaveLength(5)
    expect(running.tasks.every((t) => t.state === 'running')).toBe(true)
    expect(running.next).toBeDefined()
  })
})

import { describe, expect, it } from 'vitest'
import type { OwnedTask } from '../../../src/node/owner/owner-ledger.ts'
import { TaskEvents } from '../../../src/node/story/task-events.ts'
import { stateAfter } from '../../../src/node/watch/event-states.ts'
import { meshView } from '../../../src/node/watch/mesh-view.ts'
import { SettledLog } from '../../../src/node/watch/settled-log.ts'
import { cursorOf, isCursor, listTasks, type TaskListSources } from '../../../src/node/watch/task-list.ts'
import { parseTaskSpec } from '../../../src/task/spec.ts'
import type { Task } from '../../../src/task/task.ts'

/** A task accepted at `at`, its id a valid-looking CID ending in `n`. */
function task(n: number, at: number, type = 'echo'): Task {
  const id = `bafkrei${'a'.repeat(51)}${'abcdefghijklmnopqrstuvwxyz'[n]}`
  return {
    id,
    spec: parseTaskSpec({ type }),
    submitter: 'me',
    nonce: String(n),
    owner: 'me',
    submittedAt: at,
  }
}

function owned(t: Task, state: OwnedTask['state']): OwnedTask {
  return { entry: { task: t, epoch: 0, attempts: [], dependencies: {} }, state, floor: 0 }
}

function sources(partial: Partial<TaskListSources>): TaskListSources {
  return {
    waiting: [],
    owned: [],
    unschedulable: () => undefined,
    settled: [],
    recordOf: () => undefined,
    ...partial,
  }
}

describe('listTasks', () => {
  const [a, b, c, d, e] = [task(0, 100), task(1, 200), task(2, 200), task(3, 300), task(4, 50)]
  const src = sources({
    waiting: [d],
    owned: [owned(b, 'running'), owned(a, 'queued'), owned(c, 'retrying')],
    unschedulable: (id) => (id === a.id ? 'no node offers label "gpu"' : undefined),
    settled: [{ task: e, endedAt: 400, status: 'failed', error: 'boom', by: 'thief' }],
  })

  it('lists waiting, owned and ended tasks, oldest accepted first, each with its state', () => {
    const page = listTasks(src)
    expect(page.next).toBeUndefined()
    expect(page.tasks.map((t) => [t.taskId, t.state, t.reason])).toEqual([
      [e.id, 'failed', 'boom'],
      [a.id, 'unschedulable', 'no node offers label "gpu"'],
      [b.id, 'running', undefined],
      [c.id, 'queued', 'waiting to be retried'],
      [d.id, 'waiting', 'waiting on dependencies'],
    ])
    expect(page.tasks[0]).toMatchObject({ endedAt: 400, by: 'thief', type: 'echo', submitter: 'me' })
  })

  it('filters by state', () => {
    expect(listTasks(src, { states: ['queued', 'failed'] }).tasks.map((t) => t.taskId)).toEqual([e.id, c.id])
    expect(listTasks(src, { states: ['leased'] }).tasks).toEqual([])
  })

  it('pages with a cursor: every task once, in order, the same time broken by id', () => {
    const seen: string[] = []
    let page = listTasks(src, { limit: 2 })
    seen.push(...page.tasks.map((t) => t.taskId))
    while (page.next !== undefined) {
      expect(isCursor(page.next)).toBe(true)
      page = listTasks(src, { limit: 2, after: page.next })
      seen.push(...page.tasks.map((t) => t.taskId))
    }
    expect(seen).toEqual([e.id, a.id, b.id, c.id, d.id])
    expect(listTasks(src, { after: cursorOf({ submittedAt: 300, taskId: d.id }) }).tasks).toEqual([])
  })

  it('an ended task without a known status is "done", or takes the status and error of the record known here', () => {
    const bare = sources({
      settled: [
        { task: a, endedAt: 1 },
        { task: b, endedAt: 2 },
      ],
    })
    expect(listTasks(bare).tasks.map((t) => t.state)).toEqual(['done', 'done'])
    const known = {
      ...bare,
      recordOf: (id: string) => (id === b.id ? { status: 'failed' as const, error: 'boom' } : undefined),
    }
    expect(listTasks(known).tasks.map((t) => [t.state, t.reason])).toEqual([
      ['done', undefined],
      ['failed', 'boom'],
    ])
  })

  it.each(['', 'abc', '12-', '-bafkrei', '12-BAFK', `${'9'.repeat(17)}-bafkreiaaaa`])(
    'refuses the cursor %j',
    (c) => {
      expect(isCursor(c)).toBe(false)
    },
  )
})

describe('SettledLog', () => {
  it('takes the status of the run heard before the task settled, or of the completion heard after', () => {
    const events = new TaskEvents()
    const log = new SettledLog(2)
    log.listen(events)
    const [a, b, c] = [task(0, 1), task(1, 2), task(2, 3)]
    events.emit(a.id, 'finished', { status: 'failed', epoch: 1, error: 'boom' })
    log.add(a, undefined, 10)
    log.add(b, 'thief', 11)
    events.emit(b.id, 'completed', { by: 'thief', epoch: 1, outcome: 'accepted', status: 'succeeded' })
    expect(log.list()).toEqual([
      { task: a, endedAt: 10, status: 'failed', error: 'boom' },
      { task: b, endedAt: 11, by: 'thief', status: 'succeeded' },
    ])
    events.emit(c.id, 'completed', { by: 'x', epoch: 1, outcome: 'stale', status: 'failed' }) // not accepted
    log.add(c, undefined, 12) // the oldest is forgotten
    expect(log.list().map((s) => [s.task.id, s.status])).toEqual([
      [b.id, 'succeeded'],
      [c.id, undefined],
    ])
  })
})

describe('stateAfter', () => {
  it.each([
    ['queued', undefined, 'queued'],
    ['granted', { to: 'x', epoch: 1 }, 'leased'],
    ['started', { epoch: 1, attempt: 1 }, 'running'],
    ['finished', { status: 'succeeded', epoch: 1 }, 'succeeded'],
    ['completed', { outcome: 'accepted', status: 'failed' }, 'failed'],
    ['completed', { outcome: 'stale', status: 'failed' }, undefined],
    ['lease-expired', { holder: 'x', epoch: 1 }, 'queued'],
    ['announced', { custodians: 2 }, undefined],
    ['something-new', undefined, undefined],
  ] as const)('%s %j → %s', (event, detail, state) => {
    expect(stateAfter({ taskId: 't', event, at: 0, ...(detail === undefined ? {} : { detail }) })).toBe(state)
  })
})

describe('meshView', () => {
  it('puts this node first, then the most loaded, and tells how each is heard of', () => {
    const base = { types: ['echo'], labels: [], memoryMb: 0, speed: 1 }
    const view = meshView(
      { ...base, peerId: 'self', slots: 2, running: 1, queued: 0, queuedWorkMs: 0, updatedAt: 1_000 },
      [
        {
          ...base,
          peerId: 'calm',
          slots: 4,
          running: 0,
          queued: 0,
          queuedWorkMs: 0,
          updatedAt: 900,
          direct: true,
        },
        {
          ...base,
          peerId: 'busy',
          slots: 2,
          running: 2,
          queued: 8,
          queuedWorkMs: 800,
          updatedAt: 500,
          direct: false,
        },
      ],
      1_000,
    )
    expect(view.nodes.map((n) => [n.peerId, n.heard, n.load, n.expectedWaitMs, n.ageMs])).toEqual([
      ['self', 'self', 0.5, 0, 0],
      ['busy', 'hot-list', 1, 400, 500],
      ['calm', 'neighbour', 0, 0, 100],
    ])
  })
})

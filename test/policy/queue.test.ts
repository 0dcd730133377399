import { describe, expect, it } from 'vitest'
import { InvalidPolicyError } from '../../src/policy/errors.ts'
import {
  agingWaitBoundMs,
  DEFAULT_AGING,
  type QueuePolicy,
  STRICT_PRIORITY,
} from '../../src/policy/priority.ts'
import { TaskQueue } from '../../src/policy/queue.ts'
import type { QueuedTask } from '../../src/policy/types.ts'
import { MAX_PRIORITY, MIN_PRIORITY } from '../../src/task/limits.ts'
import { seededRandom, task } from './helpers.ts'

function drain(queue: TaskQueue, now: number, canRun?: (t: QueuedTask) => boolean): string[] {
  const ids: string[] = []
  for (let t = queue.pop(now, canRun); t !== undefined; t = queue.pop(now, canRun)) ids.push(t.id)
  return ids
}

function queueOf(policy: QueuePolicy, tasks: QueuedTask[]): TaskQueue {
  const queue = new TaskQueue(policy)
  for (const t of tasks) queue.push(t)
  return queue
}

describe('ordering', () => {
  const low = task('low', { priority: MIN_PRIORITY, enqueuedAt: 0 })
  const top = task('top', { priority: MAX_PRIORITY, enqueuedAt: 10_000 })
  const mid = task('mid', { priority: 0, enqueuedAt: 9_000 })

  it.each([
    {
      name: 'strict: priority first, whatever the wait',
      policy: STRICT_PRIORITY,
      expected: ['top', 'mid', 'low'],
    },
    {
      name: 'aging: the long-waiting low task goes first',
      policy: DEFAULT_AGING,
      expected: ['low', 'top', 'mid'],
    },
  ])('$name', ({ policy, expected }) => {
    expect(drain(queueOf(policy, [low, top, mid]), 10_000)).toEqual(expected)
  })

  it.each([
    { name: 'strict', policy: STRICT_PRIORITY },
    { name: 'aging', policy: DEFAULT_AGING },
  ])('fresh tasks order by priority ($name)', ({ policy }) => {
    const tasks = [5, -3, 900, 0, -1000].map((p, i) => task(`p${p}`, { priority: p, enqueuedAt: 100 + i }))
    expect(drain(queueOf(policy, tasks), 105)).toEqual(['p900', 'p5', 'p0', 'p-3', 'p-1000'])
  })

  it.each([
    { name: 'strict', policy: STRICT_PRIORITY },
    { name: 'aging', policy: DEFAULT_AGING },
  ])('FIFO ties within a priority ($name)', ({ policy }) => {
    const tasks = ['a', 'b', 'c', 'd'].map((id, i) => task(id, { priority: 7, enqueuedAt: i < 2 ? 0 : 50 }))
    expect(drain(queueOf(policy, tasks), 20_000)).toEqual(['a', 'b', 'c', 'd'])
  })

  it('a requeued task with an older enqueuedAt goes back to the front of its level', () => {
    const queue = queueOf(STRICT_PRIORITY, [task('b', { enqueuedAt: 200 }), task('c', { enqueuedAt: 300 })])
    queue.push(task('a', { enqueuedAt: 100 }))
    expect(drain(queue, 400)).toEqual(['a', 'b', 'c'])
  })

  it('lowest priority outranks fresh top-priority work after agingWaitBoundMs', () => {
    const bound = agingWaitBoundMs(DEFAULT_AGING, MIN_PRIORITY)
    const at = (now: number) =>
      queueOf(DEFAULT_AGING, [
        task('low', { priority: MIN_PRIORITY }),
        task('top', { priority: MAX_PRIORITY, enqueuedAt: now }),
      ])
    expect(at(bound - 10).peek(bound - 10)?.id).toBe('top')
    expect(at(bound + 10).peek(bound + 10)?.id).toBe('low')
  })

  it('pop skips tasks canRun rejects, including heads', () => {
    const queue = queueOf(STRICT_PRIORITY, [
      task('gpu', { priority: 9, type: 'train' }),
      task('cpu1', { priority: 9 }),
      task('cpu2', { priority: 1 }),
    ])
    const cpuOnly = (t: QueuedTask) => t.type === 'echo'
    expect(queue.peek(0, cpuOnly)?.id).toBe('cpu1')
    expect(drain(queue, 0, cpuOnly)).toEqual(['cpu1', 'cpu2'])
    expect(queue.size).toBe(1)
    expect(queue.pop(0, () => false)).toBeUndefined()
  })
})

describe('bookkeeping', () => {
  it('a duplicate id is a no-op', () => {
    const queue = new TaskQueue()
    expect(queue.push(task('a', { priority: 1 }))).toBe(true)
    expect(queue.push(task('a', { priority: 5 }))).toBe(false)
    expect(queue.size).toBe(1)
    expect(queue.get('a')?.priority).toBe(1)
  })

  it('remove, has, get, values and counts stay consistent', () => {
    const queue = queueOf(DEFAULT_AGING, [
      task('a'),
      task('b', { stealable: false }),
      task('c', { priority: 3 }),
    ])
    expect(queue.stealableCount).toBe(2)
    expect(queue.remove('a')?.id).toBe('a')
    expect(queue.remove('a')).toBeUndefined()
    expect(queue.has('a')).toBe(false)
    expect(queue.has('b')).toBe(true)
    expect([...queue.values()].map((t) => t.id).sort()).toEqual(['b', 'c'])
    expect(queue.stealableCount).toBe(1)
    expect(queue.pop(0)?.id).toBe('c')
    expect(queue.pop(0)?.id).toBe('b')
    expect(queue.size).toBe(0)
    expect(queue.stealableCount).toBe(0)
    expect(queue.pop(0)).toBeUndefined()
  })

  it('refuses an invalid policy', () => {
    expect(() => new TaskQueue({ kind: 'aging', theta: 2, tauMs: 1000 })).toThrow(InvalidPolicyError)
  })
})

describe('takeForSteal', () => {
  const all = () => true

  it('most-urgent (the default): hands over what this node would run next', () => {
    const queue = queueOf(STRICT_PRIORITY, [
      task('urgent', { priority: 100 }),
      task('old-low', { priority: -5, enqueuedAt: 0 }),
      task('new-low', { priority: -5, enqueuedAt: 10 }),
      task('mid', { priority: 0 }),
    ])
    expect(queue.takeForSteal(20, 3, all).map((t) => t.id)).toEqual(['urgent', 'mid', 'old-low'])
    expect(queue.pop(20)?.id).toBe('new-low')
  })

  it('least-urgent: hands over the tasks this node would reach last', () => {
    const queue = queueOf(STRICT_PRIORITY, [
      task('urgent', { priority: 100 }),
      task('old-low', { priority: -5, enqueuedAt: 0 }),
      task('new-low', { priority: -5, enqueuedAt: 10 }),
      task('mid', { priority: 0 }),
    ])
    expect(queue.takeForSteal(20, 3, all, 'least-urgent').map((t) => t.id)).toEqual([
      'new-low',
      'old-low',
      'mid',
    ])
    expect(queue.pop(20)?.id).toBe('urgent')
  })

  it('under aging, a long-waiting task counts as urgent: taken first (most-urgent), kept (least-urgent)', () => {
    const tasks = () => [
      task('aged', { priority: MIN_PRIORITY, enqueuedAt: 0 }),
      task('fresh', { priority: 500, enqueuedAt: 60_000 }),
    ]
    expect(
      queueOf(DEFAULT_AGING, tasks())
        .takeForSteal(60_000, 1, all)
        .map((t) => t.id),
    ).toEqual(['aged'])
    expect(
      queueOf(DEFAULT_AGING, tasks())
        .takeForSteal(60_000, 1, all, 'least-urgent')
        .map((t) => t.id),
    ).toEqual(['fresh'])
  })

  it.each(['most-urgent', 'least-urgent'] as const)(
    'never steal what runs (%s): leased-in (non-stealable) tasks are never taken',
    (order) => {
      const queue = queueOf(DEFAULT_AGING, [
        task('leased', { priority: 10, stealable: false }),
        task('mine', { priority: -10 }),
      ])
      expect(queue.takeForSteal(0, 5, all, order).map((t) => t.id)).toEqual(['mine'])
      expect(queue.has('leased')).toBe(true)
      expect(queue.takeForSteal(0, 5, all, order)).toEqual([])
    },
  )

  it.each([
    ['most-urgent', ['a', 'c']],
    ['least-urgent', ['c', 'a']],
  ] as const)('only tasks the thief can run (%s)', (order, expected) => {
    const queue = queueOf(STRICT_PRIORITY, [
      task('a', { type: 'train' }),
      task('b'),
      task('c', { type: 'train' }),
    ])
    const taken = queue.takeForSteal(0, 10, (t) => t.type === 'train', order)
    expect(taken.map((t) => t.id)).toEqual(expected)
    expect([...queue.values()].map((t) => t.id)).toEqual(['b'])
  })

  it.each([0, -1, Number.NaN])('max %d takes nothing', (max) => {
    const queue = queueOf(STRICT_PRIORITY, [task('a')])
    expect(queue.takeForSteal(0, max, all)).toEqual([])
    expect(queue.takeForSteal(0, max, all, 'least-urgent')).toEqual([])
    expect(queue.size).toBe(1)
  })
})

describe('performance sanity', () => {
  it('10,000 pushes and pops over many priority levels come out in order', () => {
    const random = seededRandom(7)
    const queue = new TaskQueue(DEFAULT_AGING)
    for (let i = 0; i < 10_000; i++) {
      const priority = Math.floor(random() * 2001) + MIN_PRIORITY
      queue.push(task(`t${i}`, { priority, enqueuedAt: 1_000_000 }))
    }
    expect(queue.size).toBe(10_000)
    let last = Number.POSITIVE_INFINITY
    let popped = 0
    let outOfOrder = 0
    for (let t = queue.pop(1_000_000); t !== undefined; t = queue.pop(1_000_000)) {
      if (t.priority > last) outOfOrder++
      last = t.priority
      popped++
    }
    expect(popped).toBe(10_000)
    expect(outOfOrder).toBe(0)
    expect(queue.size).toBe(0)
  })
})

/**
 * One node with `slots` slots running 100 ms tasks; top-priority work arrives as a Poisson
 * stream at `rhoTop` of capacity, lowest-priority work at `rhoLow`. Returns the low tasks' p99 wait.
 */
function lowPriorityP99(policy: QueuePolicy, slots: number, rhoTop: number, rhoLow: number): number {
  const durationMs = 100
  const random = seededRandom(1)
  const gap = (rho: number) => (-Math.log(1 - random()) * durationMs) / (rho * slots)
  const queue = new TaskQueue(policy)
  const free = new Array<number>(slots).fill(0)
  const waits: number[] = []
  let nextTop = gap(rhoTop)
  let nextLow = gap(rhoLow)
  let now = 0
  for (let n = 0; now < 600_000; ) {
    const slotFree = Math.min(...free)
    if (queue.size > 0 && slotFree <= Math.min(nextTop, nextLow)) {
      now = Math.max(now, slotFree)
      const t = queue.pop(now)!
      if (t.priority === MIN_PRIORITY) waits.push(now - t.enqueuedAt)
      free[free.indexOf(slotFree)] = now + durationMs
    } else if (nextTop <= nextLow) {
      now = nextTop
      queue.push(task(`t${n++}`, { priority: MAX_PRIORITY, enqueuedAt: now }))
      nextTop = now + gap(rhoTop)
    } else {
      now = nextLow
      queue.push(task(`t${n++}`, { priority: MIN_PRIORITY, enqueuedAt: now }))
      nextLow = now + gap(rhoLow)
    }
  }
  waits.sort((a, b) => a - b)
  return waits[Math.floor(waits.length * 0.99)]
}

describe('no starvation under saturation', () => {
  it('lowest-priority p99 wait stays under 5 s with aging, not with strict priority', () => {
    expect(lowPriorityP99(DEFAULT_AGING, 4, 0.95, 0.03)).toBeLessThanOrEqual(5_000)
    expect(lowPriorityP99(STRICT_PRIORITY, 4, 0.95, 0.03)).toBeGreaterThan(5_000)
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DEFAULT_AGING, STRICT_PRIORITY } from '../../src/policy/priority.ts'
import { TaskQueue } from '../../src/policy/queue.ts'
import type { QueuedTask } from '../../src/policy/types.ts'
import { task } from './helpers.ts'

/** Four shapes: one-slot echo, four-slot echo, a labelled type, and echo held under a lease. */
const SHAPES: Array<Partial<QueuedTask>> = [
  {},
  { resources: { slots: 4, memoryMb: 0, labels: [] } },
  { type: 'train', resources: { slots: 1, memoryMb: 0, labels: ['gpu'] } },
  { stealable: false },
]

const op = fc.oneof(
  fc.record({
    push: fc.integer({ min: 0, max: 30 }),
    priority: fc.integer({ min: 0, max: 2 }),
    shape: fc.nat(SHAPES.length - 1),
  }),
  fc.record({ remove: fc.nat(200) }),
  fc.record({ pop: fc.subarray([0, 1, 2, 3]) }),
  fc.record({ steal: fc.subarray([0, 1, 2, 3]), max: fc.integer({ min: 1, max: 3 }) }),
)

describe('lanes: tasks of one shape are taken or passed over together', () => {
  it('pop and takeForSteal take what a model would, whatever shapes the filter accepts', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
        const queue = new TaskQueue(STRICT_PRIORITY)
        const model: Array<{ id: string; priority: number; at: number; seq: number; shape: number }> = []
        const order = (a: (typeof model)[0], b: (typeof model)[0]) =>
          b.priority - a.priority || a.at - b.at || a.seq - b.seq
        const shapeOf = new Map<string, number>()
        const filter = (shapes: number[]) => (t: QueuedTask) => shapes.includes(shapeOf.get(t.id) ?? -1)
        ops.forEach((o, seq) => {
          model.sort(order)
          if ('push' in o) {
            const id = `t${seq}`
            shapeOf.set(id, o.shape)
            queue.push(task(id, { ...SHAPES[o.shape], enqueuedAt: o.push, priority: o.priority }))
            model.push({ id, priority: o.priority, at: o.push, seq, shape: o.shape })
          } else if ('remove' in o) {
            const victim = model[o.remove % Math.max(1, model.length)]
            if (victim === undefined) return
            expect(queue.remove(victim.id)?.id).toBe(victim.id)
            model.splice(model.indexOf(victim), 1)
          } else if ('pop' in o) {
            const next = model.find((m) => o.pop.includes(m.shape))
            expect(queue.pop(0, filter(o.pop))?.id).toBe(next?.id)
            if (next !== undefined) model.splice(model.indexOf(next), 1)
          } else {
            const grantable = o.steal.filter((shape) => SHAPES[shape].stealable !== false)
            const expected = model.filter((m) => grantable.includes(m.shape)).slice(0, o.max)
            const taken = queue.takeForSteal(0, o.max, filter(o.steal)).map((t) => t.id)
            expect(taken).toEqual(expected.map((m) => m.id))
            for (const m of expected) model.splice(model.indexOf(m), 1)
          }
        })
        expect(queue.size).toBe(model.length)
      }),
      { numRuns: 400 },
    )
  })

  it('least-urgent steals from the back of every lane the thief can run', () => {
    const queue = new TaskQueue(STRICT_PRIORITY)
    queue.push(task('a', { enqueuedAt: 1 }))
    queue.push(task('big', { ...SHAPES[1], enqueuedAt: 2 }))
    queue.push(task('b', { enqueuedAt: 3 }))
    queue.push(task('gpu', { ...SHAPES[2], enqueuedAt: 4 }))
    queue.push(task('held', { ...SHAPES[3], enqueuedAt: 5 }))
    const oneSlot = (t: QueuedTask) => t.resources.slots === 1
    expect(queue.takeForSteal(0, 10, oneSlot, 'least-urgent').map((t) => t.id)).toEqual(['gpu', 'b', 'a'])
    expect([...queue.values()].map((t) => t.id).sort()).toEqual(['big', 'held'])
  })

  it.each([
    ['strict', STRICT_PRIORITY],
    ['aging', DEFAULT_AGING],
  ] as const)('asks the filter once per lane, not once per task it passes over (%s)', (_, policy) => {
    const queue = new TaskQueue(policy)
    for (let i = 0; i < 10_000; i++) queue.push(task(`big${i}`, { ...SHAPES[1], enqueuedAt: i }))
    for (let i = 0; i < 10_000; i++) queue.push(task(`gpu${i}`, { ...SHAPES[2], enqueuedAt: i }))
    for (let i = 0; i < 10_000; i++) queue.push(task(`one${i}`, { enqueuedAt: 10_000 + i }))
    let asked = 0
    const oneSlotEcho = (t: QueuedTask) => {
      asked++
      return t.resources.slots === 1 && t.type === 'echo'
    }
    const popped: string[] = []
    for (let i = 0; i < 5_000; i++) popped.push(queue.pop(30_000, oneSlotEcho)?.id ?? 'none')
    const stolen = queue.takeForSteal(30_000, 5_000, oneSlotEcho).map((t) => t.id)
    expect(popped).toEqual(Array.from({ length: 5_000 }, (_, i) => `one${i}`))
    expect(stolen).toEqual(Array.from({ length: 5_000 }, (_, i) => `one${5_000 + i}`))
    expect(asked).toBeLessThanOrEqual(3 * 10_001)
    expect(queue.size).toBe(20_000)
  })
})

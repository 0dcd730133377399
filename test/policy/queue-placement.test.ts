import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { STRICT_PRIORITY } from '../../src/policy/priority.ts'
import { TaskQueue } from '../../src/policy/queue.ts'
import { task } from './helpers.ts'

/** Strict priority pops highest priority first, then earliest `enqueuedAt`, then push order. */
function drained(queue: TaskQueue): string[] {
  const ids: string[] = []
  for (let t = queue.pop(0); t !== undefined; t = queue.pop(0)) ids.push(t.id)
  return ids
}

const op = fc.oneof(
  fc.record({ push: fc.integer({ min: 0, max: 40 }), priority: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ remove: fc.nat(200) }),
  fc.record({ pop: fc.constant(true) }),
)

describe('where a task goes in its level', () => {
  it('pops in (priority, enqueuedAt, push order) whatever the order of pushes, removes and pops', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const queue = new TaskQueue(STRICT_PRIORITY)
        const model: Array<{ id: string; priority: number; at: number; seq: number }> = []
        const order = (a: (typeof model)[0], b: (typeof model)[0]) =>
          b.priority - a.priority || a.at - b.at || a.seq - b.seq
        ops.forEach((o, seq) => {
          if ('push' in o) {
            queue.push(task(`t${seq}`, { enqueuedAt: o.push, priority: o.priority }))
            model.push({ id: `t${seq}`, priority: o.priority, at: o.push, seq })
          } else if ('remove' in o) {
            const victim = model[o.remove % Math.max(1, model.length)]
            if (victim === undefined) return
            expect(queue.remove(victim.id)?.id).toBe(victim.id)
            model.splice(model.indexOf(victim), 1)
          } else {
            model.sort(order)
            expect(queue.pop(0)?.id).toBe(model.shift()?.id)
          }
        })
        expect(drained(queue)).toEqual(model.sort(order).map((m) => m.id))
      }),
      { numRuns: 500 },
    )
  })

  it('a batch of older tasks, in order, goes into a queue of 100,000 in place, each at once', () => {
    const queue = new TaskQueue(STRICT_PRIORITY)
    for (let i = 0; i < 100_000; i++) queue.push(task(`new${i}`, { enqueuedAt: 1_000_000 + i }))
    // adopted tasks of a dead owner: older than most queued here, one interleaved with them
    for (let i = 0; i < 10_000; i++) queue.push(task(`old${i}`, { enqueuedAt: 500_000 + 60 * i }))
    const ids = drained(queue)
    expect(ids).toHaveLength(110_000)
    const at = (id: string) =>
      id.startsWith('old') ? 500_000 + 60 * Number(id.slice(3)) : 1_000_000 + Number(id.slice(3))
    for (let i = 1; i < ids.length; i++) expect(at(ids[i - 1])).toBeLessThanOrEqual(at(ids[i]))
  })
})

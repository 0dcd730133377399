import { describe, expect, it } from 'vitest'
import { mapInTurns, turnEnd } from '../../src/util/in-turns.ts'

/** Keeps the event loop busy for `ms`. */
function spin(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // busy: a check that takes this long
  }
}

describe('mapInTurns', () => {
  it('maps every item in order; a batch that fits the budget takes one turn', async () => {
    const seen: string[] = []
    setImmediate(() => seen.push('immediate'))
    const out = await mapInTurns([1, 2, 3, 4, 5], 1_000, (n, i) => {
      seen.push(`item ${i}`)
      return n * 10
    })
    expect(out).toEqual([10, 20, 30, 40, 50])
    expect(seen).toEqual(['item 0', 'item 1', 'item 2', 'item 3', 'item 4'])
  })

  it('gives the event loop turns once the budget is spent: what fell due meanwhile runs before the rest', async () => {
    const seen: string[] = []
    let due = false
    setTimeout(() => {
      due = true
    }, 1)
    setImmediate(() => seen.push('immediate'))
    const items = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']
    const out = await mapInTurns(items, 2, (s) => {
      seen.push(`${s}:${due}`)
      spin(1) // two or three items spend the budget
      return s.toUpperCase()
    })
    expect(out).toEqual(items.map((s) => s.toUpperCase()))
    expect(seen[0]).toBe('a:false')
    expect(seen.indexOf('immediate')).toBeGreaterThan(0)
    expect(seen.indexOf('immediate')).toBeLessThan(seen.length - 1)
    expect(seen[seen.length - 1]).toBe('h:true')
    expect(seen.filter((e) => e !== 'immediate').map((e) => e[0])).toEqual(items)
  })

  it('maps an empty list to an empty one', async () => {
    expect(await mapInTurns([], 2, () => 1)).toEqual([])
  })
})

describe('turnEnd', () => {
  it('gives every caller of a turn one promise, settled after the turn; the next turn gets another', async () => {
    const order: string[] = []
    const first = turnEnd()
    const second = turnEnd()
    expect(second).toBe(first)
    const both = Promise.all([first.then(() => order.push('a')), second.then(() => order.push('b'))])
    await Promise.resolve().then(() => order.push('microtask'))
    expect(order).toEqual(['microtask']) // not within the turn
    await both
    expect(order).toEqual(['microtask', 'a', 'b'])
    expect(turnEnd()).not.toBe(first)
  })
})

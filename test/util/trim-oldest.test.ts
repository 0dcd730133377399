import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { trimOldest } from '../../src/util/trim-oldest.ts'

type Op = { kind: 'set' | 'delete' | 'reset' | 'clear'; key: number }

/** What the maps held after each op, with `trim` applied after each. */
function trace(
  ops: Op[],
  max: number,
  trim: (m: Map<number, number>) => void,
): Array<Array<[number, number]>> {
  const map = new Map<number, number>()
  return ops.map((op, i) => {
    if (op.kind === 'set') map.set(op.key, i)
    else if (op.kind === 'delete') map.delete(op.key)
    else if (op.kind === 'reset') {
      map.delete(op.key)
      map.set(op.key, i)
    } else map.clear()
    trim(map)
    expect(map.size).toBeLessThanOrEqual(max)
    return [...map]
  })
}

describe('trimOldest', () => {
  it('forgets what map.keys().next() would, whatever sets, deletes, re-sets and clears come between', () => {
    const op = fc.record({
      kind: fc.constantFrom<Op['kind']>('set', 'set', 'delete', 'reset', 'clear'),
      key: fc.integer({ min: 0, max: 40 }),
    })
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.integer({ min: 1, max: 12 }), (ops, max) => {
        const expected = trace(ops, max, (m) => {
          while (m.size > max) m.delete(m.keys().next().value as number)
        })
        expect(trace(ops, max, (m) => trimOldest(m, max))).toEqual(expected)
      }),
      { numRuns: 400 },
    )
  })

  it('lets the caller forget more than the key, and stops when it keeps the key', () => {
    const map = new Map([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ])
    const forgotten: string[] = []
    trimOldest(map, 1, (key) => {
      forgotten.push(key)
      map.delete(key)
    })
    expect(forgotten).toEqual(['a', 'b'])
    expect([...map.keys()]).toEqual(['c'])
    map.set('d', 4)
    trimOldest(map, 1, () => undefined) // keeps what it is given: no endless loop
    expect(map.size).toBe(2)
  })
})

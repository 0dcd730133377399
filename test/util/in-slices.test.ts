import { describe, expect, it } from 'vitest'
import { mapInSlices, nextTurn } from '../../src/util/in-slices.ts'

describe('mapInSlices', () => {
  it('maps every item in order, a slice per turn: what was queued meanwhile runs between slices', async () => {
    const seen: string[] = []
    setImmediate(() => seen.push('immediate'))
    const out = await mapInSlices([1, 2, 3, 4, 5, 6, 7], 3, (n, i) => {
      seen.push(`item ${i}`)
      return n * 10
    })
    expect(out).toEqual([10, 20, 30, 40, 50, 60, 70])
    // the immediate queued before the call runs after the first slice, before the second
    expect(seen.indexOf('immediate')).toBe(3)
    expect(seen.filter((s) => s.startsWith('item'))).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `item ${i}`))
  })

  it('lets a timer that falls due while a slice runs fire before the next slice', async () => {
    const seen: string[] = []
    let due = false
    setTimeout(() => {
      due = true
    }, 1)
    const spin = () => {
      const until = Date.now() + 3
      while (Date.now() < until) {} // a slice longer than the timer's delay
    }
    await mapInSlices(['a', 'b', 'c'], 1, (s) => {
      seen.push(`${s}:${due}`)
      spin()
    })
    expect(seen[0]).toBe('a:false')
    expect(seen[seen.length - 1]).toBe('c:true')
  })

  it('handles an empty list and a slice larger than the list in one turn', async () => {
    expect(await mapInSlices([], 4, () => 1)).toEqual([])
    let turns = 0
    const ticking = setInterval(() => turns++, 0)
    await mapInSlices([1, 2, 3], 10, (n) => n)
    clearInterval(ticking)
    expect(turns).toBe(0)
    await nextTurn()
  })
})

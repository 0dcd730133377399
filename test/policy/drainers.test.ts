import { describe, expect, it } from 'vitest'
import { DRAINER_WINDOW_MS, Drainers } from '../../src/policy/drainers.ts'

describe('Drainers', () => {
  const own = { slots: 1, speed: 0.5 }

  it('adds the owner and every other thief that asked within the window', () => {
    const d = new Drainers()
    d.note('fast', 2, 2, 0)
    d.note('slow', 8, 0.5, 10)
    expect(d.others('slow', own, 20)).toEqual({ capacity: 0.5 + 4, slots: 3 })
    expect(d.others('fast', own, 20)).toEqual({ capacity: 0.5 + 4, slots: 9 })
    expect(d.others('new', own, 20)).toEqual({ capacity: 0.5 + 4 + 4, slots: 11 })
  })

  it('a thief that stopped asking drops out after the window; one that asks again counts anew', () => {
    const d = new Drainers()
    d.note('fast', 2, 2, 0)
    expect(d.others('x', own, DRAINER_WINDOW_MS).capacity).toBe(4.5)
    expect(d.others('x', own, DRAINER_WINDOW_MS + 1).capacity).toBe(0.5)
    d.note('fast', 4, 1, DRAINER_WINDOW_MS + 2)
    expect(d.others('x', own, DRAINER_WINDOW_MS + 3)).toEqual({ capacity: 4.5, slots: 5 })
  })

  it('capacity that runs nothing counts for nothing', () => {
    const d = new Drainers(100)
    d.note('broken', 4, 0, 0)
    d.note('bad', Number.NaN, 1, 0)
    expect(d.others('x', { slots: 0, speed: 1 }, 1)).toEqual({ capacity: 0, slots: 0 })
  })
})

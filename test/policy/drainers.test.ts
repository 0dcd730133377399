import { describe, expect, it } from 'vitest'
import { DRAINER_WINDOW_MS, Drainers } from '../../src/policy/drainers.ts'
import type { NodeOffer } from '../../src/policy/types.ts'

const offer = (slots: number, init: Partial<NodeOffer> = {}): NodeOffer => ({
  types: ['sleep'],
  labels: [],
  slots,
  memoryMb: 1024,
  ...init,
})
const asker = (peer: string, init: Partial<NodeOffer> = {}) => ({ peer, offer: offer(4, init) })

describe('Drainers', () => {
  const own = { slots: 1, speed: 0.5 }

  /** Drainers with `fast` (2 slots × 2) and `slow` (8 × 0.5) asking, and a grant made at 0. */
  function twoAsking(): Drainers {
    const d = new Drainers()
    d.note('fast', offer(2), 2, 0)
    d.note('slow', offer(8), 0.5, 10)
    d.granted(0)
    return d
  }

  it('adds the owner and every other thief that asked within the window', () => {
    const d = twoAsking()
    expect(d.others(asker('slow'), own, 20)).toEqual({ capacity: 0.5 + 4, slots: 3 })
    expect(d.others(asker('fast'), own, 20)).toEqual({ capacity: 0.5 + 4, slots: 9 })
    expect(d.others(asker('new'), own, 20)).toEqual({ capacity: 0.5 + 4 + 4, slots: 11 })
  })

  it('a thief that stopped asking drops out after the window; one that asks again counts anew', () => {
    const d = new Drainers()
    d.note('fast', offer(2), 2, 0)
    d.granted(DRAINER_WINDOW_MS)
    expect(d.others(asker('x'), own, DRAINER_WINDOW_MS).capacity).toBe(4.5)
    expect(d.others(asker('x'), own, DRAINER_WINDOW_MS + 1).capacity).toBe(0.5)
    d.note('fast', offer(4), 1, DRAINER_WINDOW_MS + 2)
    expect(d.others(asker('x'), own, DRAINER_WINDOW_MS + 3)).toEqual({ capacity: 4.5, slots: 5 })
  })

  it('counts nothing while the owner granted nothing within the window: askers that take nothing drain nothing', () => {
    const d = new Drainers()
    d.note('fast', offer(2), 2, 0)
    expect(d.others(asker('x'), own, 1)).toEqual({ capacity: 0, slots: 0 })
    d.granted(1)
    expect(d.others(asker('x'), own, 2).capacity).toBe(4.5)
    d.note('fast', offer(2), 2, DRAINER_WINDOW_MS + 1)
    expect(d.others(asker('x'), own, DRAINER_WINDOW_MS + 2)).toEqual({ capacity: 0, slots: 0 })
  })

  it('counts only the thieves, and the owner, that run whatever the asker runs', () => {
    const d = new Drainers()
    d.note('plain', offer(2), 2, 0)
    d.note('gpu', offer(2, { types: ['sleep', 'render'], labels: ['gpu'], memoryMb: 8192 }), 2, 0)
    d.granted(0)
    // a thief of another handler type, a label or more memory is drained only by those that have it
    expect(d.others(asker('x'), own, 1).capacity).toBe(8.5)
    expect(d.others(asker('x', { types: ['render'] }), own, 1).capacity).toBe(4.5)
    expect(d.others(asker('x', { labels: ['gpu'] }), own, 1).capacity).toBe(4.5)
    expect(d.others(asker('x', { memoryMb: 4096 }), own, 1).capacity).toBe(4.5)
    // the owner's own slots count only when it runs the asker's types
    const ownPlain = { ...own, offer: offer(1) }
    expect(d.others(asker('x', { types: ['render'] }), ownPlain, 1)).toEqual({ capacity: 4, slots: 2 })
    expect(d.others(asker('x'), ownPlain, 1)).toEqual({ capacity: 8.5, slots: 5 })
  })

  it('capacity that runs nothing counts for nothing', () => {
    const d = new Drainers(100)
    d.note('broken', offer(4), 0, 0)
    d.note('bad', offer(Number.NaN), 1, 0)
    d.granted(0)
    expect(d.others(asker('x'), { slots: 0, speed: 1 }, 1)).toEqual({ capacity: 0, slots: 0 })
  })
})

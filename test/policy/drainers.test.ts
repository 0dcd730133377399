import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DRAINER_WINDOW_MS, Drainers } from '../../src/policy/drainers.ts'
import { stealAmount } from '../../src/policy/stealing.ts'
import type { NodeOffer } from '../../src/policy/types.ts'
import { idle, load } from './helpers.ts'

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

describe('stealAmount with what else drains the queue', () => {
  // an owner of 1 slot at half speed; 16 slots at speed 2 asked it lately besides the thief
  const owner = (queued: number) => load(queued, { slots: 1, speed: 0.5 })
  const fastOthers = { capacity: 0.5 + 32, slots: 17 }
  const slowThief = idle({ slots: 8, speed: 0.5, freeSlots: 8 })

  it('a slow thief leaves the end of a short queue to faster thieves', () => {
    expect(stealAmount({ victim: owner(10), thief: slowThief })).toBeGreaterThan(0)
    // each task ends 200 ms after it starts there; the others drain 10 and run one in ~130 ms
    expect(stealAmount({ victim: owner(10), thief: slowThief, others: fastOthers })).toBe(0)
  })

  it('a slow thief takes its free slots and prefetch while the queue is long', () => {
    expect(stealAmount({ victim: owner(1_000), thief: slowThief, others: fastOthers })).toBe(16)
  })

  it('equal speeds: a prefetch does not outlast what the others take to drain the queue', () => {
    const victim = load(12, { slots: 4 })
    const thief = idle({ slots: 4, freeSlots: 4, prefetch: 4 })
    expect(stealAmount({ victim, thief })).toBe(8)
    // 4 start at once; a 5th waits 25 ms, as long as the others (28 slots) take for the 7 left
    expect(stealAmount({ victim, thief, others: { capacity: 28, slots: 28 } })).toBe(5)
  })

  it('nothing else draining changes nothing; others only ever lower the amount', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 0, max: 16 }),
        fc.double({ min: 0.1, max: 4, noNaN: true }),
        fc.double({ min: 0, max: 64, noNaN: true }),
        fc.integer({ min: 0, max: 64 }),
        (queued, meanMs, free, speed, capacity, slots) => {
          const victim = load(queued, { queuedWorkMs: queued * meanMs, slots: 2, speed: 1 })
          const thief = idle({ slots: 16, freeSlots: free, speed })
          const alone = stealAmount({ victim, thief })
          expect(stealAmount({ victim, thief, others: { capacity: 0, slots: 0 } })).toBe(alone)
          expect(stealAmount({ victim, thief, others: { capacity, slots } })).toBeLessThanOrEqual(alone)
        },
      ),
      { numRuns: 300, seed: 7 },
    )
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { expectedWaitMs } from '../../src/policy/capacity.ts'
import {
  chooseVictim,
  grantCount,
  rankVictims,
  stealAmount,
  type ThiefLoad,
  type VictimChoiceInput,
} from '../../src/policy/stealing.ts'
import type { NodeOffer, PeerCapacity } from '../../src/policy/types.ts'
import { idle, load } from './helpers.ts'

const offer: NodeOffer = { types: ['echo'], labels: [], slots: 1, memoryMb: 1024 }

/** A peer whose queue holds `queued` tasks of 100 ms each, seen at time 0. */
function peer(peerId: string, queued: number, init: Partial<PeerCapacity> = {}): PeerCapacity {
  return {
    peerId,
    types: ['echo'],
    labels: [],
    slots: 1,
    memoryMb: 1024,
    running: 1,
    queued,
    queuedWorkMs: queued * 100,
    speed: 1,
    updatedAt: 0,
    ...init,
  }
}

function choose(peers: PeerCapacity[], init: Partial<VictimChoiceInput> = {}): string | undefined {
  return chooseVictim({
    self: { offer, expectedWaitMs: 0 },
    peers,
    now: 1_000,
    random: () => 0,
    transferCostMs: 10,
    ...init,
  })?.peerId
}

describe('chooseVictim', () => {
  it('move from the larger', () => {
    expect(choose([peer('small', 2), peer('large', 3)], { topK: 1 })).toBe('large')
  })

  it('ranks by expected wait, not queue length', () => {
    const fast = peer('fast', 10, { slots: 8, speed: 2 })
    const slow = peer('slow', 4, { speed: 0.5 })
    expect(choose([fast, slow], { topK: 1 })).toBe('slow')
  })

  it.each([
    { name: 'stale beacon ignored', victim: peer('v', 9, { updatedAt: -2_001 }) },
    { name: 'no stealable work', victim: peer('v', 0, { queuedWorkMs: 500 }) },
    { name: 'handler types do not overlap', victim: peer('v', 9, { types: ['gpu-train'] }) },
    {
      name: 'it runs types the thief runs, but its beacon says none is queued',
      victim: peer('v', 9, { types: ['echo', 'gpu-train'], queuedTypes: ['gpu-train'] }),
    },
  ])('$name', ({ victim }) => {
    expect(choose([victim], { staleAfterMs: 3_000 })).toBeUndefined()
    expect(choose([victim, peer('ok', 1)], { staleAfterMs: 3_000 })).toBe('ok')
  })

  it('a queued type the thief runs is enough, whatever else the victim runs or queued', () => {
    const victim = peer('v', 9, { types: ['gpu-train', 'echo'], queuedTypes: ['gpu-train', 'echo'] })
    expect(choose([victim])).toBe('v')
  })

  it('a beacon exactly staleAfterMs old still counts', () => {
    expect(choose([peer('v', 9, { updatedAt: -2_000 })], { staleAfterMs: 3_000 })).toBe('v')
  })

  it('excluded peers are skipped', () => {
    expect(choose([peer('a', 9), peer('b', 2)], { exclude: new Set(['a']) })).toBe('b')
  })

  it.each([
    {
      name: 'cost rule blocks a cheap steal',
      victimWait: 50,
      transferCostMs: 100,
      selfWait: 0,
      steals: false,
    },
    {
      name: 'cost rule allows a costly steal',
      victimWait: 500,
      transferCostMs: 100,
      selfWait: 0,
      steals: true,
    },
    {
      name: "the thief's own wait counts",
      victimWait: 500,
      transferCostMs: 100,
      selfWait: 450,
      steals: false,
    },
    {
      name: 'equal to the threshold does not pay',
      victimWait: 500,
      transferCostMs: 100,
      selfWait: 400,
      steals: false,
    },
  ])('$name', ({ victimWait, transferCostMs, selfWait, steals }) => {
    const victim = peer('v', 1, { queuedWorkMs: victimWait })
    const chosen = choose([victim], { transferCostMs, self: { offer, expectedWaitMs: selfWait } })
    expect(chosen).toBe(steals ? 'v' : undefined)
  })

  it('random among top K', () => {
    const peers = [peer('p5', 5), peer('p1', 1), peer('p4', 4), peer('p3', 3), peer('p2', 2)]
    const picked = [0, 0.34, 0.67, 0.999].map((r) => choose(peers, { random: () => r, topK: 3 }))
    expect(picked).toEqual(['p5', 'p4', 'p3', 'p3'])
    const seen = new Set<string | undefined>()
    for (let i = 0; i < 100; i++) seen.add(choose(peers, { random: () => i / 100 }))
    expect([...seen].sort()).toEqual(['p3', 'p4', 'p5'])
  })

  it('ranking is deterministic on ties', () => {
    const ranked = rankVictims({
      self: { offer, expectedWaitMs: 0 },
      peers: [peer('b', 2), peer('a', 2)],
      now: 0,
      transferCostMs: 0,
    })
    expect(ranked.map((r) => r.peer.peerId)).toEqual(['a', 'b'])
  })
})

describe('stealAmount', () => {
  it.each([
    { name: 'balance: one queued task goes to an idle thief', victim: load(1), thief: idle(), n: 1 },
    { name: "don't over-balance", victim: load(2), thief: idle(), n: 1 },
    {
      name: 'half the surplus',
      victim: load(20, { slots: 16 }),
      thief: idle({ slots: 16, freeSlots: 0 }),
      n: 10,
    },
    {
      name: 'tasks that start at once on free slots count as no wait',
      victim: load(20, { slots: 16 }),
      thief: idle({ slots: 16, freeSlots: 4 }),
      n: 12,
    },
    {
      name: 'half the difference when the thief has work too',
      victim: load(30, { slots: 16 }),
      thief: { ...load(10, { slots: 16 }), freeSlots: 0 },
      n: 10,
    },
    {
      name: 'never steal what runs: nothing queued',
      victim: load(0, { queuedWorkMs: 0 }),
      thief: idle(),
      n: 0,
    },
    { name: 'thief already busier', victim: load(2), thief: { ...load(5), freeSlots: 0 }, n: 0 },
    { name: 'equal waits', victim: load(3), thief: { ...load(3), freeSlots: 0 }, n: 0 },
    {
      name: 'capped by free slots plus a prefetch',
      victim: load(100),
      thief: idle({ slots: 2, freeSlots: 2 }),
      n: 4,
    },
    {
      name: 'capped by maxBatch',
      victim: load(100),
      thief: idle({ slots: 8, freeSlots: 8 }),
      maxBatch: 5,
      n: 5,
    },
    { name: 'a thief with no capacity takes nothing', victim: load(10), thief: idle({ slots: 0 }), n: 0 },
    {
      name: 'a victim with no capacity gives up to the cap',
      victim: load(3, { slots: 0 }),
      thief: idle(),
      n: 2,
    },
  ])('$name', ({ victim, thief, maxBatch, n }) => {
    expect(stealAmount({ victim, thief, maxBatch })).toBe(n)
  })

  it('heterogeneous speeds: a faster thief takes more', () => {
    const victim = load(10)
    const thief = (speed: number): ThiefLoad => ({ ...load(80, { slots: 16, speed }), freeSlots: 0 })
    const slow = stealAmount({ victim, thief: thief(1) })
    const fast = stealAmount({ victim, thief: thief(3) })
    expect([slow, fast]).toEqual([4, 8])
  })

  const figures = fc.record({
    queued: fc.integer({ min: 0, max: 200 }),
    meanMs: fc.integer({ min: 1, max: 10_000 }),
    slots: fc.integer({ min: 1, max: 32 }),
    speed: fc.double({ min: 0.1, max: 10, noNaN: true }),
  })

  it('no ping-pong: after a steal the thief waits no longer than the victim and nothing flows back', () => {
    fc.assert(
      fc.property(figures, figures, fc.integer({ min: 0, max: 32 }), (v, t, free) => {
        const victim = { queued: v.queued, queuedWorkMs: v.queued * v.meanMs, slots: v.slots, speed: v.speed }
        const freeSlots = Math.min(free, t.slots)
        const thief = {
          queued: t.queued,
          queuedWorkMs: t.queued * t.meanMs,
          slots: t.slots,
          speed: t.speed,
          freeSlots,
        }
        const n = stealAmount({ victim, thief })
        expect(n).toBeGreaterThanOrEqual(0)
        expect(n).toBeLessThanOrEqual(Math.min(victim.queued, freeSlots + thief.slots))
        if (n === 0) return
        expect(expectedWaitMs(victim)).toBeGreaterThan(expectedWaitMs(thief))
        const queuedThere = Math.max(0, n - freeSlots)
        const victimAfter = {
          ...victim,
          queued: victim.queued - n,
          queuedWorkMs: (victim.queued - n) * v.meanMs,
        }
        const thiefAfter = {
          ...thief,
          queued: thief.queued + queuedThere,
          queuedWorkMs: thief.queuedWorkMs + queuedThere * v.meanMs,
          freeSlots: Math.max(0, freeSlots - n),
        }
        expect(expectedWaitMs(thiefAfter)).toBeLessThanOrEqual(
          expectedWaitMs(victimAfter) * (1 + 1e-9) + 1e-9,
        )
        expect(stealAmount({ victim: thiefAfter, thief: { ...victimAfter, freeSlots: 0 } })).toBe(0)
      }),
      { numRuns: 500, seed: 42 },
    )
  })
})

describe('grantCount', () => {
  const victim = load(20, { slots: 16 })
  const thief = idle({ slots: 16, freeSlots: 0 })

  it.each([
    { name: 'grants what was asked when the rule allows it', requested: 4, n: 4 },
    { name: 'grants fewer than asked, never more', requested: 50, n: 10 },
    { name: 'limited by what the thief can run here', requested: 8, available: 3, n: 3 },
    { name: 'nothing asked, nothing granted', requested: 0, n: 0 },
    { name: 'cost rule on the victim side', requested: 4, transferCostMs: 125, n: 0 },
    { name: 'cost rule passes when the wait is long enough', requested: 4, transferCostMs: 100, n: 4 },
  ])('$name', ({ requested, available, transferCostMs, n }) => {
    expect(grantCount({ victim, thief, requested, available, transferCostMs })).toBe(n)
  })

  it('a victim whose queue shrank since its beacon grants nothing', () => {
    expect(grantCount({ victim: load(0, { queuedWorkMs: 0 }), thief: idle(), requested: 3 })).toBe(0)
  })
})

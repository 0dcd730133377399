import { describe, expect, it, vi } from 'vitest'
import { createNodeCounters } from '../../../src/node/node-counters.ts'
import { INITIAL_OFFER_RTT_MS, OfferDesk, REFUSED_PAUSE_MS } from '../../../src/node/owner/offer-desk.ts'
import { StealRefusedError } from '../../../src/node/wire/steal-service.ts'
import type { PeerCapacity } from '../../../src/policy/types.ts'
import type { OfferRequest, StealGrant, StealRequest } from '../../../src/protocol/messages/messages.ts'

const PROOF = `${'A'.repeat(86)}==`

function peer(peerId: string, over: Partial<PeerCapacity> = {}): PeerCapacity {
  return {
    ...{ peerId, types: ['render'], labels: [], slots: 4, memoryMb: 1024 },
    ...{ running: 0, queued: 0, queuedWorkMs: 0, speed: 1, updatedAt: Date.now() },
    ...over,
  }
}

/** An owner with `queued` stealable `render` tasks; each grant hands out up to `max` of them. */
function setup(
  neighbours: PeerCapacity[],
  opts: { queued?: number; answer?: 'declineAll' | 'fail' | 'refuse' } = {},
) {
  let queued = opts.queued ?? 10
  const leased = new Map<string, number>()
  const asked: Array<[string, StealRequest]> = []
  const sent: Array<[string, OfferRequest]> = []
  // what the owner's ledger does: a lease taken back no longer counts against the peer
  const takeBack = vi.fn((to: string, back: unknown[]) => leased.set(to, (leased.get(to) ?? 0) - back.length))
  const counters = createNodeCounters()
  const costs: number[] = []
  const grant = (to: string, req: StealRequest, transferCostMs: number): StealGrant => {
    asked.push([to, req])
    costs.push(transferCostMs)
    const n = Math.min(req.max, queued)
    queued -= n
    leased.set(to, (leased.get(to) ?? 0) + n)
    const ids = Array.from({ length: n }, (_, i) => `${to}-${asked.length}-${i}`)
    return {
      type: 'grant',
      requestId: req.requestId,
      tasks: ids.map((id) => ({ id }) as never),
      leases: ids.map((taskId) => ({ taskId, epoch: 1, expiresAt: 0, proof: PROOF })),
      ttlMs: 1000,
    }
  }
  const desk = new OfferDesk({
    peers: { eachNeighbour: () => neighbours.values() },
    queue: {
      get stealableCount() {
        return queued
      },
      stealableTypes: () => (queued > 0 ? ['render'] : []),
    },
    takesOffers: (p) => p !== 'old',
    admits: (p) => p !== 'barred',
    leasedSince: (p) => leased.get(p) ?? 0,
    grant,
    send: async (to, offer) => {
      sent.push([to, offer])
      if (opts.answer === 'fail') throw new Error('stream reset')
      if (opts.answer === 'refuse') throw new StealRefusedError(to, 'offer', 'ERR_NOT_ALLOWED', 'not listed')
      const ids = offer.tasks.map((t) => t.id)
      if (opts.answer === 'declineAll') queued += ids.length // taken back (as takeBack requeues them)
      return opts.answer === 'declineAll'
        ? { type: 'offered', requestId: offer.requestId, accepted: [], declined: ids }
        : { type: 'offered', requestId: offer.requestId, accepted: ids, declined: [] }
    },
    takeBack,
    counters,
    staleAfterMs: 3000,
  })
  return { desk, asked, sent, takeBack, counters, costs, queuedNow: () => queued }
}

describe('OfferDesk', () => {
  it('offers an idle neighbour up to its free slots, as a steal of that size would be granted', async () => {
    const { desk, asked, sent, counters, queuedNow } = setup([peer('idle', { running: 1 })])
    desk.consider()
    expect(asked).toHaveLength(1)
    const [to, req] = asked[0]
    expect(to).toBe('idle')
    expect(req).toMatchObject({ max: 3, freeSlots: 3, queued: 0, offer: { types: ['render'], slots: 4 } })
    await vi.waitFor(() => expect(sent).toHaveLength(1))
    expect(sent[0][1]).toMatchObject({ type: 'offer', requestId: req.requestId })
    expect(sent[0][1].tasks).toHaveLength(3)
    expect(counters.tasksOffered).toBe(3)
    expect(queuedNow()).toBe(7)
  })

  it('weighs each move against the mean round trip of the offers answered', async () => {
    const neighbours = [peer('idle', { slots: 1 })]
    const { desk, sent, costs } = setup(neighbours)
    // the desk's clock stands still: the answer takes 0 ms whatever else the machine does
    const clock = vi.spyOn(performance, 'now').mockReturnValue(1_000)
    try {
      desk.consider()
      expect(costs).toEqual([INITIAL_OFFER_RTT_MS])
      await vi.waitFor(() => expect(sent).toHaveLength(1))
      await new Promise((resolve) => setImmediate(resolve))
      neighbours.push(peer('another', { slots: 1 }))
      desk.consider()
    } finally {
      clock.mockRestore()
    }
    // the mean moved a fifth of the way from the assumed 5 ms toward the answer's 0 ms
    expect(costs[1]).toBeCloseTo(0.8 * INITIAL_OFFER_RTT_MS, 9)
  })

  it('counts the leases a peer took since its beacon against its free slots', () => {
    const { desk, asked } = setup([peer('idle')])
    desk.consider()
    desk.consider() // its 4 slots are taken by the first offer until a newer beacon says otherwise
    expect(asked).toHaveLength(1)
  })

  it('offers nothing to a busy, queued, stale, 1.0-only, barred or incompatible neighbour', () => {
    const stale = Date.now() - 10_000
    const { desk, asked } = setup([
      peer('full', { running: 4 }),
      peer('queued', { queued: 2 }),
      peer('stale', { updatedAt: stale }),
      peer('old'),
      peer('barred'),
      peer('other', { types: ['encode'] }),
    ])
    desk.consider()
    expect(asked).toEqual([])
  })

  it('offers nothing when nothing stealable is queued', () => {
    const { desk, asked } = setup([peer('idle')], { queued: 0 })
    desk.consider()
    expect(asked).toEqual([])
  })

  it('counts as granted what the peer took, once it said so', async () => {
    const { desk, counters } = setup([peer('idle', { slots: 2 })])
    desk.consider()
    expect(counters.tasksGranted).toBe(0)
    await vi.waitFor(() => expect(counters.tasksGranted).toBe(2))
  })

  it('takes back at once what the peer declined, and offers it nothing more until its next beacon', async () => {
    const idle = peer('idle', { slots: 2, updatedAt: Date.now() - 10 })
    const { desk, sent, takeBack, counters } = setup([idle], { answer: 'declineAll' })
    desk.consider()
    await vi.waitFor(() => expect(takeBack).toHaveBeenCalledTimes(1))
    const ids = sent[0][1].tasks.map((t) => t.id)
    expect(takeBack).toHaveBeenCalledWith(
      'idle',
      ids.map((taskId) => ({ taskId, epoch: 1 })),
    )
    expect(counters.tasksGranted).toBe(0)
    desk.consider() // the same beacon: not offered again (no ping-pong of offers and declines)
    expect(sent).toHaveLength(1)
    idle.updatedAt = Date.now() + 1 // a newer beacon
    desk.consider()
    await vi.waitFor(() => expect(sent).toHaveLength(2))
  })

  it('takes back a refused offer whole, and offers that peer nothing for a minute', async () => {
    const idle = peer('idle', { slots: 2 })
    const { desk, sent, takeBack } = setup([idle], { answer: 'refuse' })
    desk.consider()
    await vi.waitFor(() => expect(takeBack).toHaveBeenCalledTimes(1))
    expect(takeBack.mock.calls[0][1]).toHaveLength(2)
    idle.updatedAt = Date.now() + 1 // even after a newer beacon
    desk.consider()
    expect(sent).toHaveLength(1)
    expect(REFUSED_PAUSE_MS).toBe(60_000)
  })

  it('leaves the leases of an unanswered offer to run out', async () => {
    const { desk, sent, takeBack } = setup([peer('idle')], { answer: 'fail' })
    desk.consider()
    await vi.waitFor(() => expect(sent).toHaveLength(1))
    await new Promise((resolve) => setImmediate(resolve))
    expect(takeBack).not.toHaveBeenCalled()
  })
})

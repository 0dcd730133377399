import { afterEach, describe, expect, it, vi } from 'vitest'
import { BeaconPublisher } from '../../../src/node/peers/beacons.ts'
import { PeerView } from '../../../src/node/peers/peer-view.ts'
import type { LocalQueue } from '../../../src/node/run/local-queue.ts'
import type { Beacon } from '../../../src/protocol/messages/beacon-messages.ts'

/** A publisher whose beacons land in `sent` (queue and runner are stand-ins: only capacity is read). */
function publisher(sent: Beacon[]): BeaconPublisher {
  const queue = { queuedWorkMs: () => 0, stealableCount: 0 } as unknown as LocalQueue
  return new BeaconPublisher({
    send: (b: Beacon) => void sent.push(b),
    hot: () => [],
    queue,
    runner: { runningCount: 0 },
    offer: { types: ['sleep'], labels: [], slots: 1, memoryMb: 0 },
    slots: 1,
    speed: 1,
    intervalMs: 1_000,
  })
}

describe('beacon sequence numbers', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('rise with every beacon, even many in one millisecond, and a restarted node ranks above its previous run', () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] })
    const first: Beacon[] = []
    const run1 = publisher(first)
    for (let i = 0; i < 5; i++) run1.send()
    expect(first.map((b) => b.seq)).toEqual([1_000_000, 1_000_001, 1_000_002, 1_000_003, 1_000_004])

    const view = new PeerView()
    for (const b of first) expect(view.update('peer-a', b, Date.now())).toBe(true)

    // killed and restarted a second later: the peer still remembers the old run's last seq
    vi.setSystemTime(1_001_000)
    const second: Beacon[] = []
    publisher(second).send()
    expect(view.update('peer-a', second[0], Date.now())).toBe(true)
    // a replayed old beacon is not news
    expect(view.update('peer-a', first[4], Date.now())).toBe(false)
  })
})

/** A 4-slot publisher of change-driven beacons (no periodic one within a test) over a stand-in queue. */
function fourSlots(send: (b: Beacon) => void, queue: { queuedWorkMs(): number; stealableCount: number }) {
  return new BeaconPublisher({
    send,
    hot: () => [],
    queue: queue as unknown as LocalQueue,
    runner: { runningCount: 0 },
    offer: { types: ['sleep'], labels: [], slots: 4, memoryMb: 0 },
    slots: 4,
    speed: 1,
    intervalMs: 60_000,
  })
}

describe('change-driven beacons', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('go out at the end of the turn the queue filled in, ahead of the next timers; one per turn', async () => {
    vi.useFakeTimers({ now: 2_000_000, toFake: ['Date'] })
    const sent: Beacon[] = []
    const queue = { queuedWorkMs: () => 0, stealableCount: 0 }
    const beacons = fourSlots((b) => sent.push(b), queue)
    beacons.send() // the last beacon: an empty queue, long enough ago below
    vi.setSystemTime(2_000_050)
    sent.length = 0
    queue.stealableCount = 1
    beacons.soon()
    queue.stealableCount = 500 // the rest of a submission goes in within the same turn
    beacons.soon()
    expect(sent).toHaveLength(0)
    await Promise.resolve() // a microtask later: no timer phase has passed
    expect(sent.map((b) => b.queued)).toEqual([500])
    await new Promise((resolve) => setImmediate(resolve))
    expect(sent).toHaveLength(1)
    beacons.stop()
  })

  it('tell of an emptied queue after the turn’s other writes (a grant goes first), then once', async () => {
    vi.useFakeTimers({ now: 3_000_000, toFake: ['Date'] })
    const order: string[] = []
    const queue = { queuedWorkMs: () => 0, stealableCount: 1 }
    const beacons = fourSlots((b) => order.push(`beacon ${b.queued}`), queue)
    beacons.send()
    vi.setSystemTime(3_000_050)
    order.length = 0
    queue.stealableCount = 0 // a steal took the last task
    beacons.soon()
    beacons.soon()
    queueMicrotask(() => order.push('grant')) // the reply is written on the turn's microtasks
    await Promise.resolve()
    await Promise.resolve()
    expect(order).toEqual(['grant'])
    await new Promise((resolve) => setImmediate(resolve))
    expect(order).toEqual(['grant', 'beacon 0'])
    beacons.stop()
  })
})

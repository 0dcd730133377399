import { afterEach, describe, expect, it, vi } from 'vitest'
import { BeaconPublisher } from '../../../src/node/peers/beacons.ts'
import { PeerView } from '../../../src/node/peers/peer-view.ts'
import type { LocalQueue } from '../../../src/node/run/local-queue.ts'
import type { Beacon } from '../../../src/protocol/messages/beacon-messages.ts'

/** A stand-in for the node's queue: a publisher reads only its stealable count, types and queued work. */
type QueueStandIn = {
  queuedWorkMs(): number
  stealableCount: number
  stealableTypes?(max: number): string[] | undefined
}

/**
 * A publisher whose beacons go to `send` (queue and runner are stand-ins: only capacity is read),
 * with no periodic beacon within a test.
 */
function publisher(
  send: (b: Beacon) => void,
  queue: QueueStandIn = { queuedWorkMs: () => 0, stealableCount: 0 },
  slots = 1,
): BeaconPublisher {
  return new BeaconPublisher({
    send,
    hot: () => [],
    queue: Object.assign(queue, {
      stealableTypes: queue.stealableTypes ?? (() => []),
    }) as unknown as LocalQueue,
    runner: { runningCount: 0 },
    offer: { types: ['sleep'], labels: [], slots, memoryMb: 0 },
    slots,
    speed: 1,
    intervalMs: 60_000,
  })
}

describe('beacon sequence numbers', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('rise with every beacon, even many in one millisecond, and a restarted node ranks above its previous run', () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] })
    const first: Beacon[] = []
    const run1 = publisher((b) => first.push(b))
    for (let i = 0; i < 5; i++) run1.send()
    expect(first.map((b) => b.seq)).toEqual([1_000_000, 1_000_001, 1_000_002, 1_000_003, 1_000_004])

    const view = new PeerView()
    for (const b of first) expect(view.update('peer-a', b, Date.now())).toBe(true)

    // killed and restarted a second later: the peer still remembers the old run's last seq
    vi.setSystemTime(1_001_000)
    const second: Beacon[] = []
    publisher((b) => second.push(b)).send()
    expect(view.update('peer-a', second[0], Date.now())).toBe(true)
    // a replayed old beacon is not news
    expect(view.update('peer-a', first[4], Date.now())).toBe(false)
  })
})

describe('queued types', () => {
  it('a beacon names the types thieves may be granted: none when nothing is queued, or too many types are', () => {
    const sent: Beacon[] = []
    const queue: QueueStandIn = { queuedWorkMs: () => 0, stealableCount: 0 }
    const beacons = publisher((b) => sent.push(b), queue)
    beacons.send()
    queue.stealableCount = 2
    queue.stealableTypes = () => ['render', 'sleep']
    beacons.send()
    queue.stealableTypes = () => undefined // more than a beacon may name
    beacons.send()
    expect(sent.map((b) => b.queuedTypes)).toEqual([undefined, ['render', 'sleep'], undefined])
    // a thief that runs neither is told; the view keeps it for the victim choice
    const view = new PeerView()
    view.update('peer-a', sent[1], Date.now())
    expect(view.get('peer-a')?.queuedTypes).toEqual(['render', 'sleep'])
    beacons.stop()
  })
})

describe('change-driven beacons', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('go out at the end of the turn the queue filled in, ahead of the next timers; one per turn', async () => {
    vi.useFakeTimers({ now: 2_000_000, toFake: ['Date', 'performance'] })
    const sent: Beacon[] = []
    const queue = { queuedWorkMs: () => 0, stealableCount: 0 }
    const beacons = publisher((b) => sent.push(b), queue, 4)
    beacons.send() // the last beacon: an empty queue, long enough ago below
    vi.advanceTimersByTime(50)
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
    vi.useFakeTimers({ now: 3_000_000, toFake: ['Date', 'performance'] })
    const order: string[] = []
    const queue = { queuedWorkMs: () => 0, stealableCount: 1 }
    const beacons = publisher((b) => order.push(`beacon ${b.queued}`), queue, 4)
    beacons.send()
    vi.advanceTimersByTime(50)
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

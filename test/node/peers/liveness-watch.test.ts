import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  DEFAULT_PEER_REDIALS,
  LivenessWatch,
  LOST_PEER_DIALS,
  LOST_PEER_MEMORY_MS,
  libp2pRedialsMs,
} from '../../../src/node/peers/liveness-watch.ts'

/** How long libp2p's own redials last by default: the node's rounds leave those peers to them. */
const LIBP2P_REDIALS_MS = libp2pRedialsMs(DEFAULT_PEER_REDIALS)

const noEvents = { addEventListener() {}, removeEventListener() {} } as never

describe('LivenessWatch: peers declared dead', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('are dialled a few a round, for a while; one heard again is not, and its return is told', async () => {
    vi.useFakeTimers()
    const probed: string[] = []
    const backs: Array<[string, number]> = []
    const watch = new LivenessWatch({
      ...{ self: 'me', libp2p: noEvents, failureDetectionMs: 1_000, beaconIntervalMs: 200 },
      onDead: () => {},
      probe: async (peer) => {
        probed.push(peer)
        return false
      },
      redials: DEFAULT_PEER_REDIALS, // a round every 10 s
      random: () => 0.5, // rounds exactly 10 s apart; the middle one of those left each pick
    })
    watch.onBack((peer, lastHeardAt) => backs.push([peer, lastHeardAt]))
    watch.start()
    const start = Date.now()
    for (const peer of ['p', 'q', 'r']) watch.heard(peer)
    await vi.advanceTimersByTimeAsync(2_000)
    expect(['p', 'q', 'r'].map((p) => watch.isDead(p))).toEqual([true, true, true])
    // rounds at 10, 20 and 30 s: silent for less than libp2p's own redials last (31 s)
    expect(LIBP2P_REDIALS_MS).toBe(31_000)
    await vi.advanceTimersByTimeAsync(LIBP2P_REDIALS_MS - 2_001)
    expect(probed).toEqual([])

    await vi.advanceTimersByTimeAsync(10_000) // the round at 40 s
    expect(probed).toHaveLength(LOST_PEER_DIALS)
    expect(probed).toEqual(['q', 'r'])

    // q answers: its beacons bring it back, and who listens hears when it was last heard before
    expect(watch.heard('q')).toBe(true)
    expect(backs).toEqual([['q', start]])
    probed.length = 0
    for (let t = 0; t < 20; t++) {
      await vi.advanceTimersByTimeAsync(500)
      watch.heard('q') // its beacons go on
    }
    expect(probed.sort()).toEqual(['p', 'r'])

    // a cut of hours (q fell silent again too): still dialled, two a round
    await vi.advanceTimersByTimeAsync(2 * 60 * 60_000)
    probed.length = 0
    await vi.advanceTimersByTimeAsync(10_000)
    expect(probed).toHaveLength(LOST_PEER_DIALS)

    // dead for longer than the memory (a day): dialled no more (the bootstrap keepers are left)
    expect(LOST_PEER_MEMORY_MS).toBe(24 * 60 * 60_000)
    await vi.advanceTimersByTimeAsync(LOST_PEER_MEMORY_MS)
    probed.length = 0
    await vi.advanceTimersByTimeAsync(10_000)
    expect(probed).toEqual([])
    watch.stop()
  })

  it('are not dialled when their last connection closed cleanly (trimmed, stopped), only when cut', async () => {
    vi.useFakeTimers()
    const probed = new Set<string>()
    const bus = new EventTarget()
    const watch = new LivenessWatch({
      ...{ self: 'me', libp2p: bus as never, failureDetectionMs: 1_000, beaconIntervalMs: 200 },
      onDead: () => {},
      probe: async (peer) => {
        probed.add(peer)
        return false
      },
      redials: DEFAULT_PEER_REDIALS, // a round every 10 s
      random: () => 0, // rounds 5 s apart; each dials the first peers of its list (p first)
    })
    watch.start()
    /** A connection to `peer` that opens now and closes with `error` (none: a clean close). */
    const connection = (peer: string, error: Error | undefined) => {
      const conn = Object.assign(new EventTarget(), { remotePeer: { toString: () => peer } })
      bus.dispatchEvent(new CustomEvent('connection:open', { detail: conn }))
      return () => conn.dispatchEvent(Object.assign(new Event('close'), { error }))
    }
    const trimmed = connection('p', undefined)
    const cut = connection('q', new Error('connection reset'))
    const reopened = connection('r', undefined)
    for (const peer of ['p', 'q', 'r']) watch.heard(peer)
    trimmed()
    cut()
    reopened()
    connection('r', new Error('connection reset'))() // a later connection to r was cut
    await vi.advanceTimersByTimeAsync(LIBP2P_REDIALS_MS + 30_000)
    expect([...probed].sort()).toEqual(['q', 'r'])
    watch.stop()
  })
})

describe('LivenessWatch: a step of the wall clock', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it.each([
    ['back', -3_600_000],
    ['forward', 3_600_000],
  ])('%s an hour judges no peer sooner or later than its silence says', async (_, ms) => {
    vi.useFakeTimers() // the wall clock and the monotonic clock both the test's
    const dead: string[] = []
    const watch = new LivenessWatch({
      ...{ self: 'me', libp2p: noEvents, failureDetectionMs: 1_000, beaconIntervalMs: 200 },
      onDead: (peer) => dead.push(peer),
    })
    watch.start()
    watch.heard('quiet')
    watch.heard('talking')
    vi.setSystemTime(Date.now() + ms) // the wall clock alone steps
    for (let t = 0; t < 4; t++) {
      await vi.advanceTimersByTimeAsync(200)
      watch.heard('talking')
    }
    expect(dead).toEqual([]) // 800 ms of silence: within the window
    await vi.advanceTimersByTimeAsync(400)
    expect(dead).toEqual(['quiet']) // past it: the silent one only
    watch.stop()
  })
})

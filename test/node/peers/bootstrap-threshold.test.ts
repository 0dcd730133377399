import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  BOOTSTRAP_QUIET_MIN_MS,
  BOOTSTRAP_RETRY_MIN_MS,
  BootstrapKeeper,
  KEEP_MIN_CONNECTIONS,
} from '../../../src/node/peers/bootstrap-keeper.ts'

/**
 * A libp2p holding `others` connections to other peers, and one to the bootstrap peer once a dial
 * of it succeeds (while `reachable`); `close()` drops that one as the peer would.
 */
function fakeLibp2p(seed: PeerId) {
  let onDisconnect: ((evt: CustomEvent<PeerId>) => void) | undefined
  const state = { others: 0, reachable: false, connected: false, dials: 0 }
  const libp2p = {
    peerId: 'the-node-itself',
    getConnections: (peer?: PeerId) =>
      peer === undefined
        ? Array.from({ length: state.others + (state.connected ? 1 : 0) })
        : state.connected && peer.equals(seed)
          ? [{}]
          : [],
    dial: async () => {
      state.dials++
      if (!state.reachable) throw new Error('connection refused')
      state.connected = true
    },
    addEventListener: (_: string, fn: typeof onDisconnect) => {
      onDisconnect = fn
    },
    removeEventListener: () => {
      onDisconnect = undefined
    },
  }
  const close = () => {
    state.connected = false
    onDisconnect?.(new CustomEvent('peer:disconnect', { detail: seed }))
  }
  return { libp2p: libp2p as unknown as Libp2p, state, close }
}

describe('bootstrap keeper, in the mesh and out of it', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  async function keeperOf() {
    const seed = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const fake = fakeLibp2p(seed)
    // a jitter factor of exactly 1 (random 0.5): the pauses are the constants
    const keeper = new BootstrapKeeper(
      fake.libp2p,
      [`/ip4/127.0.0.1/tcp/1/p2p/${seed}`],
      undefined,
      () => 0.5,
    )
    return { keeper, ...fake }
  }

  it('an unreachable bootstrap peer is dialled again: soon below the threshold, slowly in the mesh', async () => {
    const { keeper, state } = await keeperOf()
    keeper.start()
    await vi.advanceTimersByTimeAsync(BOOTSTRAP_RETRY_MIN_MS)
    expect(state.dials).toBe(1)
    // alone: backing off from 0.5 s (1 s, 2 s, 4 s: 3 more in 7 s)
    await vi.advanceTimersByTimeAsync(7 * BOOTSTRAP_RETRY_MIN_MS * 2)
    expect(state.dials).toBe(4)
    // in the mesh (the peer may be refusing newcomers): the next failure waits the quiet pause
    state.others = KEEP_MIN_CONNECTIONS
    const pending = state.dials
    while (state.dials === pending) await vi.advanceTimersByTimeAsync(100) // the dial already due
    const before = state.dials
    await vi.advanceTimersByTimeAsync(BOOTSTRAP_QUIET_MIN_MS - 200)
    expect(state.dials).toBe(before)
    // a cut heals: once reachable, a later dial connects
    state.reachable = true
    await vi.advanceTimersByTimeAsync(2 * BOOTSTRAP_QUIET_MIN_MS)
    expect(state.connected).toBe(true)
    keeper.stop()
  })

  it(`a peer that closes the connection is redialled at once below ${KEEP_MIN_CONNECTIONS} connections, after a quiet pause above`, async () => {
    const { keeper, state, close } = await keeperOf()
    state.reachable = true
    keeper.start()
    await vi.advanceTimersByTimeAsync(BOOTSTRAP_RETRY_MIN_MS)
    expect(state.connected).toBe(true)

    // below the threshold: dialled again at once
    close()
    await vi.advanceTimersByTimeAsync(BOOTSTRAP_RETRY_MIN_MS)
    expect([state.dials, state.connected]).toEqual([2, true])

    // in the mesh: not before the quiet pause, then again after twice as long
    state.others = KEEP_MIN_CONNECTIONS
    close()
    await vi.advanceTimersByTimeAsync(BOOTSTRAP_QUIET_MIN_MS - 1)
    expect([state.dials, state.connected]).toEqual([2, false])
    await vi.advanceTimersByTimeAsync(1)
    expect([state.dials, state.connected]).toEqual([3, true])
    close()
    await vi.advanceTimersByTimeAsync(2 * BOOTSTRAP_QUIET_MIN_MS - 1)
    expect(state.dials).toBe(3)
    await vi.advanceTimersByTimeAsync(1)
    expect(state.dials).toBe(4)
    keeper.stop()
  })
})

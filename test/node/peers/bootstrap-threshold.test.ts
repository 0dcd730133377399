import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  BOOTSTRAP_RETRY_MIN_MS,
  BootstrapKeeper,
  KEEP_MIN_CONNECTIONS,
} from '../../../src/node/peers/bootstrap-keeper.ts'

/** A libp2p that counts dials and holds `count` connections, none of them to the bootstrap peer. */
function fakeLibp2p() {
  const listeners = new Map<string, () => void>()
  const state = { count: 0, dials: 0 }
  const libp2p = {
    getConnections: (peer?: unknown) => (peer === undefined ? Array.from({ length: state.count }) : []),
    dial: async () => {
      state.dials++
      throw new Error('refused')
    },
    addEventListener: (name: string, fn: () => void) => listeners.set(name, fn),
    removeEventListener: (name: string) => listeners.delete(name),
  }
  const disconnect = () => listeners.get('peer:disconnect')?.()
  return { libp2p: libp2p as unknown as Libp2p, state, disconnect }
}

describe('bootstrap keeper threshold', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it(`dials bootstrap peers only while the node has fewer than ${KEEP_MIN_CONNECTIONS} connections`, async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const { libp2p, state, disconnect } = fakeLibp2p()
    const keeper = new BootstrapKeeper(libp2p, [`/ip4/127.0.0.1/tcp/1/p2p/${peer}`])
    state.count = KEEP_MIN_CONNECTIONS
    keeper.start()
    await vi.advanceTimersByTimeAsync(10 * BOOTSTRAP_RETRY_MIN_MS)
    expect(state.dials).toBe(0) // in the mesh: the bootstrap peer is left alone

    disconnect() // still at the threshold: nothing
    await vi.advanceTimersByTimeAsync(10 * BOOTSTRAP_RETRY_MIN_MS)
    expect(state.dials).toBe(0)

    state.count = KEEP_MIN_CONNECTIONS - 1
    disconnect() // below it: dialled again, and again with backoff while refused
    await vi.advanceTimersByTimeAsync(BOOTSTRAP_RETRY_MIN_MS)
    expect(state.dials).toBe(1)
    await vi.advanceTimersByTimeAsync(2 * BOOTSTRAP_RETRY_MIN_MS)
    expect(state.dials).toBe(2)

    state.count = KEEP_MIN_CONNECTIONS // back in the mesh: the retries stop
    await vi.advanceTimersByTimeAsync(60_000)
    expect(state.dials).toBe(2)
    keeper.stop()
  })
})

import { generateKeyPair } from '@libp2p/crypto/keys'
import type { IdentifyResult, PeerId } from '@libp2p/interface'
import { MemoryDatastore } from 'datastore-core'
import fc from 'fast-check'
import { compare } from 'uint8arrays'
import { afterEach, describe, expect, it } from 'vitest'
import { xorDistance } from '../../../src/node/recovery/successor.ts'
import { ClosestPeers, isCloser, kadId, SERVING_UNKNOWN } from '../../../src/node/results/closest-peers.ts'
import { createMeshLibp2p, type MeshLibp2p } from '../../../src/node/wire/libp2p-factory.ts'
import { REPLICATE_PROTOCOL } from '../../../src/protocol/constants.ts'
import { type MeshMember, startMember, stopMember } from './replicator-mesh.ts'

const KEY = new TextEncoder().encode('/taskmesh-result/any')
const started: MeshMember[] = []

async function member(): Promise<MeshMember> {
  const m = await startMember()
  started.push(m)
  return m
}

/** Resolves once `at` has identified `peer` (and so knows what it serves). */
function identified(at: MeshLibp2p, peer: PeerId): Promise<void> {
  return new Promise((resolve) => {
    const on = (evt: CustomEvent<IdentifyResult>) => {
      if (!evt.detail.peerId.equals(peer)) return
      at.removeEventListener('peer:identify', on)
      resolve()
    }
    at.addEventListener('peer:identify', on)
  })
}

const names = (peers: PeerId[]) => peers.map(String).sort()

afterEach(async () => {
  await Promise.all(started.splice(0).map(stopMember))
})

describe('ClosestPeers', () => {
  it('ranks the peers connected now: one that connects or leaves after a ranking counts at once', async () => {
    const [a, b, c] = [await member(), await member(), await member()]
    const closest = new ClosestPeers(a.libp2p, REPLICATE_PROTOCOL)
    try {
      const bKnown = identified(a.libp2p, b.libp2p.peerId)
      await a.libp2p.dial(b.libp2p.getMultiaddrs()[0])
      await bKnown
      // every connected peer serves the protocol: this ranking's list is kept for the next ones
      expect(names(await closest.of(KEY, 5))).toEqual(names([b.libp2p.peerId]))

      const cKnown = identified(a.libp2p, c.libp2p.peerId)
      await a.libp2p.dial(c.libp2p.getMultiaddrs()[0])
      await cKnown
      expect(names(await closest.of(KEY, 5))).toEqual(names([b.libp2p.peerId, c.libp2p.peerId]))

      const bGone = new Promise((resolve) =>
        a.libp2p.addEventListener('peer:disconnect', resolve, { once: true }),
      )
      await a.libp2p.hangUp(b.libp2p.peerId)
      await bGone
      expect(names(await closest.of(KEY, 5))).toEqual(names([c.libp2p.peerId]))
    } finally {
      closest.stop()
    }
  })
})

describe('ClosestPeers with a connected peer that does not serve the protocol', () => {
  it('leaves it out, and keeps the ranking list until a change rather than reading it per record', async () => {
    const [a, b] = [await member(), await member()]
    // a peer with no replicate protocol (a light client's place): libp2p only
    const light = await createMeshLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      datastore: new MemoryDatastore(),
    })
    await light.start()
    const closest = new ClosestPeers(a.libp2p, REPLICATE_PROTOCOL)
    try {
      for (const peer of [b.libp2p, light]) {
        const known = identified(a.libp2p, peer.peerId)
        await a.libp2p.dial(peer.getMultiaddrs()[0])
        await known
      }
      expect(names(await closest.of(KEY, 5))).toEqual(names([b.libp2p.peerId]))
      // answered from what that ranking read: no read of connections or peer store per record
      const now = closest.ofNow(KEY, 5)
      expect(now).not.toBe(SERVING_UNKNOWN)
      expect(names(now as PeerId[])).toEqual(names([b.libp2p.peerId]))
      // a change (the light peer leaves) is seen at once
      const gone = new Promise((resolve) =>
        a.libp2p.addEventListener('peer:disconnect', resolve, { once: true }),
      )
      await a.libp2p.hangUp(light.peerId)
      await gone
      expect(closest.ofNow(KEY, 5)).toBe(SERVING_UNKNOWN)
      expect(names(await closest.of(KEY, 5))).toEqual(names([b.libp2p.peerId]))
    } finally {
      closest.stop()
      await light.stop()
    }
  })
})

describe('ClosestPeers.of', () => {
  it('names the count closest peers to a key, closest first: as a full ranking by XOR distance does', async () => {
    const [a, b, c, d] = [await member(), await member(), await member(), await member()]
    const closest = new ClosestPeers(a.libp2p, REPLICATE_PROTOCOL)
    try {
      for (const m of [b, c, d]) {
        const known = identified(a.libp2p, m.libp2p.peerId)
        await a.libp2p.dial(m.libp2p.getMultiaddrs()[0])
        await known
      }
      const peers = [b, c, d].map((m) => m.libp2p.peerId)
      const firsts = new Set<string>()
      for (let i = 0; i < 48; i++) {
        const key = new TextEncoder().encode(`/taskmesh-result/key-${i}`)
        const target = kadId(key)
        const ranked = [...peers]
          .sort((x, y) =>
            compare(
              xorDistance(kadId(x.toMultihash().bytes), target),
              xorDistance(kadId(y.toMultihash().bytes), target),
            ),
          )
          .map(String)
        for (const count of [0, 1, 2, 3, 5]) {
          expect((await closest.of(key, count)).map(String)).toEqual(ranked.slice(0, count))
        }
        firsts.add(ranked[0])
      }
      expect(firsts.size).toBe(3) // every peer was the closest to some key: each place was filled
    } finally {
      closest.stop()
    }
  })
})

describe('ClosestPeers.closerThanSelf', () => {
  it('names the closest peer that may take a record, if closer than this node: as a full ranking does', async () => {
    const [a, b, c] = [await member(), await member(), await member()]
    const closest = new ClosestPeers(a.libp2p, REPLICATE_PROTOCOL)
    try {
      for (const m of [b, c]) {
        const known = identified(a.libp2p, m.libp2p.peerId)
        await a.libp2p.dial(m.libp2p.getMultiaddrs()[0])
        await known
      }
      const peers = [b.libp2p.peerId, c.libp2p.peerId]
      const self = kadId(a.libp2p.peerId.toMultihash().bytes)
      const distance = (id: Uint8Array, key: Uint8Array) => xorDistance(id, kadId(key))
      let named = 0
      for (let i = 0; i < 64; i++) {
        const key = new TextEncoder().encode(`/taskmesh-result/key-${i}`)
        for (const [except, holders] of [
          ['', []],
          [b.libp2p.peerId.toString(), []],
          ['', [closest.shortId(c.libp2p.peerId)]],
          [b.libp2p.peerId.toString(), [closest.shortId(c.libp2p.peerId)]],
        ] as Array<[string, string[]]>) {
          // the reference: rank the peers that may take it, keep the first if closer than this node
          const may = peers
            .filter((p) => p.toString() !== except && !holders.includes(closest.shortId(p)))
            .sort((x, y) =>
              compare(
                distance(kadId(x.toMultihash().bytes), key),
                distance(kadId(y.toMultihash().bytes), key),
              ),
            )
          const first = may[0]
          const expected =
            first !== undefined &&
            compare(distance(kadId(first.toMultihash().bytes), key), distance(self, key)) < 0
              ? first.toString()
              : undefined
          const got = await closest.closerThanSelf(key, except, holders)
          expect(got?.toString()).toBe(expected)
          if (got !== undefined) named++
        }
      }
      // both answers occur: some keys go on, some stop here
      expect(named).toBeGreaterThan(0)
      expect(named).toBeLessThan(64 * 4)
    } finally {
      closest.stop()
    }
  })
})

describe('isCloser', () => {
  it('orders as the XOR distances compare, ties included', () => {
    const id = fc.uint8Array({ minLength: 4, maxLength: 4 })
    fc.assert(
      fc.property(id, id, id, (a, b, target) => {
        expect(isCloser(a, b, target)).toBe(compare(xorDistance(a, target), xorDistance(b, target)) < 0)
        expect(isCloser(a, a, target)).toBe(false)
      }),
      { numRuns: 2000 },
    )
  })
})

import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId, PeerStore } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { economizePeerStore, mergeAddsNothing } from '../../../src/node/wire/peer-store-reads.ts'

const A = multiaddr('/ip4/127.0.0.1/tcp/4001')
const B = multiaddr('/ip4/127.0.0.1/tcp/4002')
const started: Libp2p[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

/** libp2p's own peer store (of a node not started), economized, and the peer updates it announces. */
async function storeOf(ttlMs?: number, refreshMs?: number) {
  const node = await createLibp2p({ start: false, privateKey: await generateKeyPair('Ed25519') })
  started.push(node)
  const updates: string[] = []
  node.addEventListener('peer:update', (evt) => updates.push(evt.detail.peer.id.toString()))
  const savings = economizePeerStore(node.peerStore, ttlMs, refreshMs)
  const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  return { store: node.peerStore as PeerStore, savings, updates, other }
}

const addrs = async (store: PeerStore, peer: PeerId) =>
  (await store.get(peer)).addresses.map((a) => a.multiaddr.toString()).sort()

describe('economizePeerStore', () => {
  it('reads a peer from memory until a write of it, which the next read sees', async () => {
    const { store, savings, other } = await storeOf()
    await store.merge(other, { multiaddrs: [A] })
    const first = await store.get(other)
    expect(await store.get(other)).toBe(first)
    expect(savings.readsFromMemory).toBe(1)
    await store.patch(other, { multiaddrs: [B] })
    expect(await addrs(store, other)).toEqual([B.toString()])
    await store.delete(other)
    await expect(store.get(other)).rejects.toThrow()
  })

  it('skips a merge that adds nothing, and makes one that adds an address, a protocol or a tag', async () => {
    const { store, savings, updates, other } = await storeOf()
    await store.merge(other, { multiaddrs: [A], protocols: ['/p/1'] })
    const before = updates.length
    await store.merge(other, { multiaddrs: [A] })
    await store.merge(other, { protocols: ['/p/1'] })
    expect(savings.mergesSkipped).toBe(2)
    expect(updates.length).toBe(before)
    await store.merge(other, { multiaddrs: [B] })
    expect(await addrs(store, other)).toEqual([A.toString(), B.toString()])
    await store.merge(other, { protocols: ['/p/2'] })
    expect((await store.get(other)).protocols).toEqual(['/p/1', '/p/2'])
    await store.merge(other, { tags: { kept: { value: 50 } } })
    expect((await store.get(other)).tags.get('kept')?.value).toBe(50)
    expect(savings.mergesSkipped).toBe(2)
    expect(updates.length).toBe(before + 3)
  })

  it('makes every merge once the last write is older than the refresh, and reads the store with no TTL', async () => {
    const { store, savings, other } = await storeOf(0, 0)
    await store.merge(other, { multiaddrs: [A] })
    await store.merge(other, { multiaddrs: [A] })
    await store.get(other)
    await store.get(other)
    expect(savings).toEqual({ readsFromMemory: 0, mergesSkipped: 0 })
    expect(await addrs(store, other)).toEqual([A.toString()])
  })
})

describe('mergeAddsNothing', () => {
  it('is true only for addresses and protocols the peer has', async () => {
    const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const peer = {
      id,
      addresses: [{ multiaddr: A, isCertified: false }],
      protocols: ['/p/1'],
      metadata: new Map(),
      tags: new Map(),
    }
    expect(mergeAddsNothing(peer, { multiaddrs: [A], protocols: ['/p/1'] })).toBe(true)
    expect(mergeAddsNothing(peer, {})).toBe(true)
    expect(mergeAddsNothing(peer, { multiaddrs: [B] })).toBe(false)
    expect(mergeAddsNothing(peer, { protocols: ['/p/2'] })).toBe(false)
    expect(mergeAddsNothing(peer, { metadata: { x: new Uint8Array(1) } })).toBe(false)
    expect(mergeAddsNothing(peer, { addresses: [{ multiaddr: A, isCertified: true }] })).toBe(false)
  })
})

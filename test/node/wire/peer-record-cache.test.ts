import { generateKeyPair } from '@libp2p/crypto/keys'
import { memory } from '@libp2p/memory'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { createLibp2p } from 'libp2p'
import { describe, expect, it } from 'vitest'
import { CountingDatastore } from '../../../src/node/accounting/counting-datastore.ts'
import { onlyRestamped, PeerRecordCache } from '../../../src/node/wire/peer-record-cache.ts'

const bytes = (text: string) => new TextEncoder().encode(text)
const peer = (n: number) => new Key(`/peers/p${n}`)

function setup(max?: number) {
  const counted = new CountingDatastore(new MemoryDatastore())
  return { counted, cache: new PeerRecordCache(counted, max) }
}

describe('PeerRecordCache', () => {
  it('answers reads of peer entries from memory once written or read', async () => {
    const { counted, cache } = setup()
    await cache.put(peer(1), bytes('a'))
    expect(await cache.get(peer(1))).toEqual(bytes('a'))
    expect(counted.counts.peers.get).toBe(0)
    await counted.put(peer(2), bytes('b')) // written behind its back: read once, then kept
    await cache.get(peer(2))
    await cache.get(peer(2))
    expect(counted.counts.peers.get).toBe(1)
  })

  it('passes other keys through', async () => {
    const { counted, cache } = setup()
    await cache.put(new Key('/dht/record/x'), bytes('r'))
    await cache.get(new Key('/dht/record/x'))
    await cache.get(new Key('/dht/record/x'))
    expect(counted.counts.records.get).toBe(2)
  })

  it('forgets deleted entries, in batches too', async () => {
    const { cache } = setup()
    await cache.put(peer(1), bytes('a'))
    await cache.delete(peer(1))
    await expect(cache.get(peer(1))).rejects.toThrow()
    const batch = cache.batch()
    batch.put(peer(2), bytes('b'))
    batch.put(peer(3), bytes('c'))
    batch.delete(peer(3))
    await batch.commit()
    expect(await cache.get(peer(2))).toEqual(bytes('b'))
    await expect(cache.get(peer(3))).rejects.toThrow()
    for await (const _ of cache.deleteMany([peer(2)])) {
      // drained
    }
    await expect(cache.get(peer(2))).rejects.toThrow()
  })

  it('keeps the newest value and at most its bound of entries', async () => {
    const { counted, cache } = setup(2)
    await cache.put(peer(1), bytes('a'))
    await cache.put(peer(1), bytes('a2'))
    for await (const _ of cache.putMany([{ key: peer(2), value: bytes('b') }])) {
      // drained
    }
    await cache.put(peer(3), bytes('c')) // peer 1 goes
    expect(await cache.get(peer(1))).toEqual(bytes('a2'))
    expect(await cache.get(peer(2))).toEqual(bytes('b'))
    expect(counted.counts.peers.get).toBe(2) // peer 1 read back (peer 2 went for it), then peer 2
  })

  it('writes a peer store entry again only when more than its stamp changed, or the stamp is a minute old', async () => {
    const { counted, cache } = setup()
    const node = await createLibp2p({ datastore: cache, transports: [memory()] })
    try {
      const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
      const addr = (n: number) => multiaddr(`/memory/peer-cache-${n}`)
      await node.peerStore.merge(other, { multiaddrs: [addr(1)] })
      const written = counted.counts.peers.put
      for (let i = 0; i < 20; i++) await node.peerStore.merge(other, { multiaddrs: [addr(1)] })
      expect(counted.counts.peers.put).toBe(written) // restamped only: not written
      await node.peerStore.merge(other, { multiaddrs: [addr(2)] })
      expect(counted.counts.peers.put).toBe(written + 1)
      expect((await node.peerStore.get(other)).addresses.map((a) => a.multiaddr.toString())).toEqual([
        addr(1).toString(),
        addr(2).toString(),
      ])
    } finally {
      await node.stop()
    }
  })

  it('tells a restamped entry from a changed one by its bytes', () => {
    // field 8 (tag 0x40) with a varint: 1,700,000,000,000 and a few ms or a minute later
    const varint = (n: number) => {
      const out: number[] = []
      for (; n >= 128; n = Math.floor(n / 128)) out.push((n % 128) | 0x80)
      out.push(n)
      return out
    }
    const entry = (body: number[], updated: number) => Uint8Array.from([...body, 0x40, ...varint(updated)])
    const t = 1_700_000_000_000
    expect(onlyRestamped(entry([10, 2, 1, 2], t), entry([10, 2, 1, 2], t + 5), 60_000)).toBe(true)
    expect(onlyRestamped(entry([10, 2, 1, 2], t), entry([10, 2, 1, 3], t + 5), 60_000)).toBe(false)
    expect(onlyRestamped(entry([10, 2, 1, 2], t), entry([10, 2, 1, 2], t + 60_000), 60_000)).toBe(false)
    expect(onlyRestamped(entry([10, 2, 1, 2], t), entry([10, 2, 1, 2], t - 1), 60_000)).toBe(false)
    expect(onlyRestamped(entry([10, 2, 1], t), entry([10, 2, 1, 2], t), 60_000)).toBe(false)
    expect(onlyRestamped(Uint8Array.from([10, 2, 1, 2]), Uint8Array.from([10, 2, 1, 2]), 60_000)).toBe(false)
  })
})

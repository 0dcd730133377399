import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { CountingDatastore } from '../../../src/node/accounting/counting-datastore.ts'
import { PeerRecordCache } from '../../../src/node/wire/peer-record-cache.ts'

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
})

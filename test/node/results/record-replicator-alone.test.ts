import { Libp2pRecord } from '@libp2p/record'
import { equals } from 'uint8arrays'
import { describe, expect, it } from 'vitest'
import { dhtRecordKey } from '../../../src/node/results/fencing.ts'
import { type MeshMember, signedRecord, startMember, stopMember, waitFor } from './replicator-mesh.ts'

describe('RecordReplicator alone', () => {
  it('a record published with no peer is copied to the first peer that comes', async () => {
    const lone = await startMember()
    let later: MeshMember | undefined
    try {
      const { record, key } = await signedRecord(lone)
      await lone.results.publish(record)
      await lone.results.flush()
      expect(lone.replicator.unreplicated).toBe(1)

      later = await startMember()
      const joined = later
      await joined.libp2p.dial(lone.libp2p.getMultiaddrs()[0])
      // the copy is written to the newcomer's own datastore: it serves the record even if the
      // publisher is gone
      await waitFor(() => lone.replicator.unreplicated === 0, 'the pending copy goes out')
      const copy = await joined.replicator.readLocal(key)
      expect(copy).toBeDefined()
      expect(joined.results.open(copy as Uint8Array, key)).toEqual(record)
    } finally {
      await Promise.all([lone, later].map((m) => (m === undefined ? undefined : stopMember(m))))
    }
  })

  it('stores locally and resolves with 0 when there are no peers; a peer joining later reads the copy', async () => {
    const lone = await startMember()
    let later: MeshMember | undefined
    try {
      const { record, key, value } = await signedRecord(lone)
      expect(await lone.replicator.store(key, value)).toBe(0)
      const local = Libp2pRecord.deserialize(await lone.datastore.get(dhtRecordKey(key)))
      expect(equals(local.value, value)).toBe(true)

      // kad-dht's GET_VALUE handler serves the local copy to a peer that joins
      later = await startMember()
      await later.libp2p.dial(lone.libp2p.getMultiaddrs()[0])
      const joined = [lone, later]
      await waitFor(() => joined.every((m) => m.libp2p.services.dht.routingTable.size === 1), 'peers meet')
      expect(await later.results.get(record.taskId, { skipCache: true })).toEqual(record)
    } finally {
      await Promise.all([lone, later].map((m) => (m === undefined ? undefined : stopMember(m))))
    }
  })
})

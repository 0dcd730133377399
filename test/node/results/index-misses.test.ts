import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Libp2pRecord } from '@libp2p/record'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import {
  dhtRecordKey,
  fenceResultRecords,
  putResultRecord,
  storedRecordsOf,
} from '../../../src/node/results/fencing.ts'
import { resultKey, signResultRecord } from '../../../src/protocol/records/result-record.ts'
import { makeRecord, makeTask } from '../../protocol/fixtures.ts'

async function serializedRecord(n: number): Promise<{ key: Uint8Array; serialized: Uint8Array }> {
  const signer = await generateKeyPair('Ed25519')
  const executor = peerIdFromPrivateKey(signer).toString()
  const taskId = makeTask(n).id
  const attempts = [{ executor, epoch: 1, startedAt: 30, finishedAt: 40 }]
  const value = await signResultRecord(makeRecord({ taskId, executor, epoch: 1, attempts }), signer)
  const key = resultKey(taskId)
  return { key, serialized: new Libp2pRecord(key, value, new Date()).serialize() }
}

/** `ds` fenced, with a count of the reads that reach it. */
function fencedCountingReads(ds: MemoryDatastore) {
  let count = 0
  const read = ds.get.bind(ds)
  ds.get = (key, options) => {
    count++
    return read(key, options)
  }
  return { fenced: fenceResultRecords(ds), reads: () => count }
}

describe('reads of record keys the index knows are not stored', () => {
  it('reject NotFoundError without reading the store, once the scan at start is complete', async () => {
    const ds = new MemoryDatastore()
    const before = await serializedRecord(1) // stored before the node starts: found by the scan
    await ds.put(dhtRecordKey(before.key), before.serialized)
    const { fenced, reads } = fencedCountingReads(ds)
    await storedRecordsOf(fenced)?.scanned
    const absent = dhtRecordKey(resultKey(makeTask(2).id))
    await expect(fenced.get(absent)).rejects.toMatchObject({ name: 'NotFoundError' })
    expect(reads()).toBe(0)
    // what is stored is read from the store: found by the scan, or written since
    expect(await fenced.get(dhtRecordKey(before.key))).toEqual(before.serialized)
    const later = await serializedRecord(3)
    await putResultRecord(fenced, later.key, later.serialized)
    expect(await fenced.get(dhtRecordKey(later.key))).toEqual(later.serialized)
    expect(reads()).toBe(2)
    // other keys are read as before
    await expect(Promise.resolve().then(() => fenced.get(new Key('/peers/nobody')))).rejects.toMatchObject({
      name: 'NotFoundError',
    })
    expect(reads()).toBe(3)
  })

  it('are read from the store while the scan has not ended', async () => {
    const ds = new MemoryDatastore()
    const { fenced, reads } = fencedCountingReads(ds)
    const scan = storedRecordsOf(fenced)?.scanned
    // (a memory datastore throws at once where LevelDB rejects)
    await expect(
      Promise.resolve().then(() => fenced.get(dhtRecordKey(resultKey(makeTask(4).id)))),
    ).rejects.toMatchObject({
      name: 'NotFoundError',
    })
    expect(reads()).toBe(1)
    await scan
  })
})

import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Libp2pRecord } from '@libp2p/record'
import { MemoryDatastore } from 'datastore-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { CountingDatastore } from '../../../src/node/accounting/counting-datastore.ts'
import {
  DHT_RECORD_PREFIX,
  dhtRecordKey,
  fenceResultRecords,
  putResultRecord,
  readStoredResult,
  storedRecordsOf,
} from '../../../src/node/results/fencing.ts'
import { StoredRecords } from '../../../src/node/results/stored-records.ts'
import {
  readVerifiedResultRecord,
  resultKey,
  signResultRecord,
} from '../../../src/protocol/records/result-record.ts'
import { idOf, makeRecord, makeTask } from '../../protocol/fixtures.ts'

let key: PrivateKey
let executor: string

beforeAll(async () => {
  key = await generateKeyPair('Ed25519')
  executor = peerIdFromPrivateKey(key).toString()
})

const valueAt = (taskId: string, epoch: number) =>
  signResultRecord(
    makeRecord({ taskId, executor, epoch, attempts: [{ executor, epoch, startedAt: 30, finishedAt: 40 }] }),
    key,
  )
const serialized = (k: Uint8Array, value: Uint8Array) => new Libp2pRecord(k, value, new Date()).serialize()

describe('StoredRecords', () => {
  it('holds every key noted or scanned; before the scan ends every key may be stored', async () => {
    const ds = new MemoryDatastore()
    await ds.put(dhtRecordKey(resultKey(makeTask(1).id)), new Uint8Array([1]))
    const known = new StoredRecords()
    const scanned = dhtRecordKey(resultKey(makeTask(1).id)).toString()
    const other = dhtRecordKey(resultKey(makeTask(2).id)).toString()
    expect(known.mayHold(other)).toBe(true) // not scanned yet
    await known.scan(ds, DHT_RECORD_PREFIX)
    expect(known.mayHold(scanned)).toBe(true)
    expect(known.mayHold(other)).toBe(false)
    known.noteStored(other, new Uint8Array([7]))
    expect(known.mayHold(other)).toBe(true)
    expect(known.recentValue(other)).toEqual(new Uint8Array([7]))
    known.forget(other)
    expect(known.recentValue(other)).toBeUndefined()
    expect(known.mayHold(other)).toBe(true) // a filter forgets nothing: the next write reads
  })

  it('a key is claimed once: surely absent before its first claim only, and only once the scan ended', () => {
    const known = new StoredRecords()
    const [a, b, c] = [5, 6, 7].map((n) => dhtRecordKey(resultKey(makeTask(n).id)).toString())
    expect(known.claim(a)).toBe(false) // the scan has not ended: anything may be stored
    known.complete = true
    expect(known.mayHold(a)).toBe(true) // claimed before: may be written
    expect(known.claim(b)).toBe(true)
    expect(known.claim(b)).toBe(false)
    expect(known.mayHold(b)).toBe(true)
    known.noteStored(c)
    expect(known.claim(c)).toBe(false)
  })

  it('misses no key noted, and takes few others for stored (one block of bits per key)', () => {
    const known = new StoredRecords()
    known.complete = true
    const keyOf = (n: number) => dhtRecordKey(resultKey(idOf(n))).toString()
    for (let n = 0; n < 50_000; n++) known.noteStored(keyOf(n))
    for (let n = 0; n < 50_000; n += 7) expect(known.mayHold(keyOf(n))).toBe(true)
    let taken = 0
    for (let n = 1_000_000; n < 1_020_000; n++) if (known.mayHold(keyOf(n))) taken++
    // 6 probes in a 512-bit block, 8 Mi bits: ~0.01 % at 100,000 keys, ~2 % at a million
    expect(taken / 20_000).toBeLessThan(0.002)
  })
})

describe('fenced writes without reads', () => {
  it('a record not stored yet is written without a read, and a later one fences against it from memory', async () => {
    const counting = new CountingDatastore(new MemoryDatastore())
    const ds = fenceResultRecords(counting)
    await storedRecordsOf(ds)?.scanned
    const k = resultKey(makeTask(3).id)
    const [e1, e2] = await Promise.all([valueAt(makeTask(3).id, 1), valueAt(makeTask(3).id, 2)])
    expect((await putResultRecord(ds, k, serialized(k, e2))).written).toBe(true)
    const late = await putResultRecord(ds, k, serialized(k, e1))
    expect(late.written).toBe(false)
    expect(readVerifiedResultRecord(late.current).epoch).toBe(2)
    expect(counting.counts.records.has + counting.counts.records.get).toBe(0)
    expect(counting.counts.records.batches).toBe(1)
    expect(readVerifiedResultRecord((await readStoredResult(ds, k)) as Uint8Array).epoch).toBe(2)
  })

  it('a record stored before the node started is read and still wins against an older epoch', async () => {
    const inner = new MemoryDatastore()
    const k = resultKey(makeTask(4).id)
    const [e1, e2] = await Promise.all([valueAt(makeTask(4).id, 1), valueAt(makeTask(4).id, 2)])
    await inner.put(dhtRecordKey(k), serialized(k, e2))
    const counting = new CountingDatastore(inner)
    const ds = fenceResultRecords(counting)
    await storedRecordsOf(ds)?.scanned
    expect((await putResultRecord(ds, k, serialized(k, e1))).written).toBe(false)
    expect(counting.counts.records.has).toBe(1)
    // the writes of one turn go out in one batch
    const others = await Promise.all([5, 6, 7].map((i) => valueAt(makeTask(i).id, 1)))
    const writes = others.map((v, i) => {
      const ki = resultKey(makeTask(5 + i).id)
      return ds.put(dhtRecordKey(ki), serialized(ki, v))
    })
    await Promise.all(writes)
    expect(counting.counts.records.batches).toBe(1)
    expect(counting.counts.records.put).toBe(3)
  })
})

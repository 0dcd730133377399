import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Libp2pRecord } from '@libp2p/record'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  dhtRecordKey,
  fenceResultRecords,
  putNewResultRecord,
  putResultRecord,
  readStoredResult,
  storedRecordsOf,
} from '../../../src/node/results/fencing.ts'
import { RecordReplicator, StaleRecordError } from '../../../src/node/results/record-replicator.ts'
import { RecordSigner } from '../../../src/node/results/record-signer.ts'
import { ResultStore } from '../../../src/node/results/result-store.ts'
import { createResultValidator } from '../../../src/node/results/result-validator.ts'
import { createMeshLibp2p, type MeshLibp2p } from '../../../src/node/wire/libp2p-factory.ts'
import {
  readVerifiedResultRecord,
  resultKey,
  signResultRecord,
} from '../../../src/protocol/records/result-record.ts'
import { makeRecord, makeTask } from '../../protocol/fixtures.ts'

const TASK = makeTask(77)
const KEY = resultKey(TASK.id)

let key: PrivateKey
let executor: string

beforeAll(async () => {
  key = await generateKeyPair('Ed25519')
  executor = peerIdFromPrivateKey(key).toString()
})

/** The signed record of TASK by `key` at `epoch`. */
function valueAt(epoch: number, taskId = TASK.id): Promise<Uint8Array> {
  return signResultRecord(
    makeRecord({
      taskId,
      executor,
      epoch,
      attempts: [{ executor, epoch, startedAt: 30, finishedAt: 40 }],
    }),
    key,
  )
}

const serialized = (value: Uint8Array, k = KEY) => new Libp2pRecord(k, value, new Date()).serialize()
const epochIn = async (ds: MemoryDatastore, k = KEY) => {
  const value = await readStoredResult(ds, k)
  return value === undefined ? undefined : readVerifiedResultRecord(value).epoch
}

/** A memory datastore whose first batch fails to commit. */
function failingFirstBatch(): MemoryDatastore {
  const ds = new MemoryDatastore()
  const batch = ds.batch.bind(ds)
  let failures = 1
  ds.batch = () => {
    const inner = batch()
    return {
      put: (k, v) => inner.put(k, v),
      delete: (k) => inner.delete(k),
      commit: async (options) => {
        if (failures-- > 0) throw new Error('disk full')
        return inner.commit(options)
      },
    }
  }
  return ds
}

/** `putNewResultRecord` of `value` under KEY. */
const putNew = (ds: MemoryDatastore, value: Uint8Array) =>
  putNewResultRecord(ds, KEY, serialized(value), value)

describe('fenced writes of result records', () => {
  it('putResultRecord writes a record unless the stored one wins the selector', async () => {
    const ds = new MemoryDatastore()
    const [e1, e2, e3] = await Promise.all([valueAt(1), valueAt(2), valueAt(3)])
    expect((await putResultRecord(ds, KEY, serialized(e2))).written).toBe(true)
    const late = await putResultRecord(ds, KEY, serialized(e1))
    expect(late.written).toBe(false)
    expect(readVerifiedResultRecord(late.current).epoch).toBe(2)
    expect((await putResultRecord(ds, KEY, serialized(e2))).written).toBe(true) // the same again: idempotent
    expect((await putResultRecord(ds, KEY, serialized(e3))).written).toBe(true)
    expect(await epochIn(ds)).toBe(3)
  })

  it('a fenced datastore keeps the winner whatever order racing puts run in; other keys are untouched', async () => {
    const ds = fenceResultRecords(new MemoryDatastore())
    expect(fenceResultRecords(ds)).toBe(ds) // idempotent
    const values = await Promise.all([1, 2, 3, 4, 5].map((e) => valueAt(e)))
    for (const order of [
      [4, 0, 2, 1, 3],
      [0, 1, 2, 3, 4],
      [4, 3, 2, 1, 0],
    ]) {
      const store = fenceResultRecords(new MemoryDatastore())
      await Promise.all(order.map((i) => store.put(dhtRecordKey(KEY), serialized(values[i]))))
      expect(await epochIn(store)).toBe(5)
    }
    const other = new Key('/peers/something')
    await ds.put(other, new Uint8Array([1]))
    await ds.put(other, new Uint8Array([2]))
    expect(await ds.get(other)).toEqual(new Uint8Array([2]))
  })

  it('a failed write rejects and leaves its key unlocked: the writes queued behind it and later ones go on', async () => {
    const store = fenceResultRecords(failingFirstBatch())
    const [e1, e2, e3] = await Promise.all([1, 2, 3].map((e) => valueAt(e)))
    // e1's write fails; e2's waited for e1's under the key's lock and is written in the next batch
    const first = putResultRecord(store, KEY, serialized(e1))
    const second = putResultRecord(store, KEY, serialized(e2))
    await expect(first).rejects.toThrow('disk full')
    expect((await second).written).toBe(true)
    expect(await epochIn(store)).toBe(2)
    expect((await putResultRecord(store, KEY, serialized(e3))).written).toBe(true)
    expect(await epochIn(store)).toBe(3)
  })

  it('putNewResultRecord writes a key nothing holds with the next batch, holding it until then', async () => {
    const ds = fenceResultRecords(new MemoryDatastore())
    await storedRecordsOf(ds)?.scanned
    const [e1, e2, e3] = await Promise.all([1, 2, 3].map((e) => valueAt(e)))
    const committed = putNew(ds, e2)
    expect(committed).toBeInstanceOf(Promise)
    // a write of the key is under way: the next takes the compared path, after it, and loses
    expect(putNew(ds, e1)).toBeUndefined()
    const late = putResultRecord(ds, KEY, serialized(e1))
    await committed
    expect((await late).written).toBe(false)
    expect(await epochIn(ds)).toBe(2)
    expect(putNew(ds, e3)).toBeUndefined() // the key holds a record now: compared, not blind
    expect((await putResultRecord(ds, KEY, serialized(e3))).written).toBe(true)
    expect(await epochIn(ds)).toBe(3)
    expect(putNewResultRecord(new MemoryDatastore(), KEY, serialized(e1), e1)).toBeUndefined() // not fenced
  })

  it('a read of a key whose write is under way waits for it and reads the value from memory, not the store', async () => {
    const ds = fenceResultRecords(new MemoryDatastore())
    await storedRecordsOf(ds)?.scanned
    const reads: string[] = []
    const [has, get] = [ds.has.bind(ds), ds.get.bind(ds)]
    ds.has = (k, o) => {
      reads.push(`has ${k}`)
      return has(k, o)
    }
    ds.get = (k, o) => {
      reads.push(`get ${k}`)
      return get(k, o)
    }
    const e2 = await valueAt(2)
    const committed = putNew(ds, e2)
    const read = readStoredResult(ds, KEY) // the key is claimed, its value not noted yet
    await committed
    expect(await read).toEqual(e2)
    expect(await readStoredResult(ds, resultKey(makeTask(78).id))).toBeUndefined() // never written
    expect(reads).toEqual([])
  })

  it("a store whose batches commit through its putMany keeps its index whole; another putMany's records are noted", async () => {
    const ds = fenceResultRecords(new MemoryDatastore()) // datastore-core: batch commits call putMany
    const known = storedRecordsOf(ds)
    await known?.scanned
    const [e1, e2] = await Promise.all([1, 2].map((e) => valueAt(e)))
    await putNew(ds, e1)
    expect(known?.complete).toBe(true)
    const other = resultKey(makeTask(79).id)
    const id = (k: Uint8Array) => dhtRecordKey(k).toString()
    expect(known?.mayHold(id(other))).toBe(false)
    for await (const _ of ds.putMany([{ key: dhtRecordKey(other), value: serialized(e2, other) }]));
    expect(known?.mayHold(id(other))).toBe(true)
    expect(known?.mayHold(id(resultKey(makeTask(80).id)))).toBe(false)
  })

  it('a failed putNewResultRecord rejects and notes nothing stored: the next write compares', async () => {
    const store = fenceResultRecords(failingFirstBatch())
    await storedRecordsOf(store)?.scanned
    const [e1, e2] = await Promise.all([1, 2].map((e) => valueAt(e)))
    await expect(putNew(store, e1)).rejects.toThrow('disk full')
    expect(await readStoredResult(store, KEY)).toBeUndefined()
    expect(putNew(store, e2)).toBeUndefined() // the key was claimed: it may hold a record now
    expect((await putResultRecord(store, KEY, serialized(e2))).written).toBe(true)
    expect(await epochIn(store)).toBe(2)
  })

  it('the node’s validator refuses a value that loses to the one stored, and accepts anything else valid', async () => {
    const ds = new MemoryDatastore()
    const validate = createResultValidator(ds)
    const [e1, e2, e3] = await Promise.all([valueAt(1), valueAt(2), valueAt(3)])
    await validate(KEY, e1) // nothing stored yet
    await ds.put(dhtRecordKey(KEY), serialized(e2))
    await validate(KEY, e2) // the stored record itself (kad-dht validates its local copy on get)
    await validate(KEY, e3)
    await expect(validate(KEY, e1)).rejects.toThrow(/epoch 1 loses to the record stored here \(epoch 2\)/)
    await expect(validate(resultKey(makeTask(78).id), e3)).rejects.toThrow(/key does not match/)
  })
})

interface Member {
  libp2p: MeshLibp2p
  datastore: MemoryDatastore
  replicator: RecordReplicator
}

describe('fencing across a mesh (the replicate protocol and kad-dht PUT_VALUE)', () => {
  const members: Member[] = []

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const datastore = new MemoryDatastore()
      const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), datastore })
      await libp2p.start()
      const replicator = new RecordReplicator({ libp2p, datastore, replicas: 2 })
      await replicator.start()
      members.push({ libp2p, datastore, replicator })
    }
    for (let i = 0; i < members.length; i++) {
      for (const other of members.slice(i + 1)) await members[i].libp2p.dial(other.libp2p.getMultiaddrs()[0])
    }
    const deadline = Date.now() + 10_000
    while (!members.every((m) => m.libp2p.services.dht.routingTable.size === members.length - 1)) {
      if (Date.now() > deadline) throw new Error('routing tables did not fill')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })

  afterAll(async () => {
    for (const m of members) await m.replicator.stop()
    await Promise.all(members.map((m) => m.libp2p.stop()))
  })

  it('a late record of an older epoch is refused by every peer that holds a newer one, and by its own store', async () => {
    const [a, b, c] = members
    const taskId = makeTask(90).id
    const k = resultKey(taskId)
    const [e1, e2] = await Promise.all([valueAt(1, taskId), valueAt(2, taskId)])
    // the accepted record (epoch 2), at a and its two replicas
    expect(await a.replicator.store(k, e2)).toBe(2)
    for (const m of members) expect(await epochIn(m.datastore, k)).toBe(2)

    // b holds epoch 2 already: its own store refuses the late record, nothing is sent
    const refused = await b.replicator.store(k, e1).catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(StaleRecordError)
    // sent anyway (a peer whose own copy is gone): a and c keep epoch 2 (the replicate protocol)…
    expect(await b.replicator.replicate(k, e1)).toBe(0)
    for (const m of members) expect(await epochIn(m.datastore, k)).toBe(2)
    // …and so does kad-dht's own PUT_VALUE, through the node's validator
    for await (const _ of b.libp2p.services.dht.put(k, e1, { signal: AbortSignal.timeout(10_000) })) {
      // drain the query
    }
    for (const m of members) expect(await epochIn(m.datastore, k)).toBe(2)

    // a ResultStore that publishes the late record learns the accepted one instead
    const results = new ResultStore({
      dht: c.libp2p.services.dht,
      replicator: c.replicator,
      signer: new RecordSigner(key),
    })
    await results.publish(readVerifiedResultRecord(e1))
    expect(results.cached(taskId)?.epoch).toBe(2)
    expect((await results.get(taskId, { skipCache: true }))?.epoch).toBe(2)
    results.close()
  })
})

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Libp2pRecord } from '@libp2p/record'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CountingDatastore } from '../../../src/node/accounting/counting-datastore.ts'
import { fenceResultRecords, putResultRecord, storedRecordsOf } from '../../../src/node/results/fencing.ts'
import { UNSENT_PREFIX, UnsentRecords } from '../../../src/node/results/unsent-records.ts'
import { resultKey, signResultRecord } from '../../../src/protocol/records/result-record.ts'
import { makeRecord, makeTask } from '../../protocol/fixtures.ts'

let key: PrivateKey
let executor: string
let root: string
const opened: LevelDatastore[] = []

beforeAll(async () => {
  key = await generateKeyPair('Ed25519')
  executor = peerIdFromPrivateKey(key).toString()
  root = await mkdtemp(join(tmpdir(), 'taskmesh-unsent-'))
})

afterAll(async () => {
  await Promise.all(opened.map((d) => d.close()))
  await rm(root, { recursive: true, force: true })
})

/** A node's datastore on disk (LevelDB, as a daemon's), fenced as libp2p gets it. */
async function fenced() {
  const level = new LevelDatastore(join(root, String(opened.length)))
  await level.open()
  opened.push(level)
  const counting = new CountingDatastore(level)
  const ds = fenceResultRecords(counting)
  await storedRecordsOf(ds)?.scanned
  return { counting, ds }
}

describe('UnsentRecords', () => {
  it('records marked before a batch share one marker in it, kept until all are out; a later life finds them', async () => {
    const { counting, ds } = await fenced()
    const unsent = new UnsentRecords(ds)
    const [a, b, c, d] = [1, 2, 3, 4].map((i) => makeTask(40 + i).id)
    // the marker goes in the batch of the record's own turn: no write of its own
    const k = resultKey(a)
    const value = await signResultRecord(makeRecord({ taskId: a, executor, epoch: 1 }), key)
    const markedA = unsent.mark(a)
    await putResultRecord(ds, k, new Libp2pRecord(k, value, new Date()).serialize())
    expect(counting.counts.records.batches).toBe(1)
    expect(counting.counts.other).toMatchObject({ batches: 1, put: 1 })
    await markedA
    // b and c marked in one turn: one marker names both
    await Promise.all([unsent.mark(b), unsent.mark(c)])
    expect(counting.counts.other).toMatchObject({ batches: 2, put: 2 })
    unsent.copied(a)
    unsent.announced(b)
    unsent.copied(c)
    unsent.announced(c) // c is out, b is not: their marker stays
    unsent.copied('never-marked') // a copy of a record not made here changes nothing
    expect(unsent.size).toBe(2)
    await unsent.mark(d)
    unsent.copied(d)
    unsent.announced(d) // d is out: its marker goes, with the next batch of deletes
    expect(counting.counts.other.delete).toBe(0)
    await unsent.endNow()
    expect(unsent.size).toBe(2)
    expect(counting.counts.other.delete).toBe(1)

    // killed now: the next life finds a, b and c (sent, but named with b), and follows them
    const next = new UnsentRecords(ds)
    expect((await next.load()).sort()).toEqual([a, b, c].sort())
    next.copied(a)
    next.announced(a)
    next.forget(b) // no record of b was stored: nothing to send
    await next.endNow()
    expect(counting.counts.other.delete).toBe(2) // a's marker; b's waits for c
    next.copied(c)
    next.announced(c)
    await next.endNow()
    expect(next.size).toBe(0)
    expect(await new UnsentRecords(ds).load()).toEqual([])
  })

  it('a record made again after its marker went gets a marker again', async () => {
    const { ds } = await fenced()
    const unsent = new UnsentRecords(ds)
    const id = makeTask(50).id
    await unsent.mark(id)
    unsent.copied(id)
    unsent.announced(id)
    const again = unsent.mark(id) // a later run of the task here, before the delete went
    await Promise.all([again, unsent.endNow()])
    expect(await new UnsentRecords(ds).load()).toEqual([id])
  })

  it('writes no marker for records all sent before their batch, and leaves its own life alone', async () => {
    const { counting, ds } = await fenced()
    const unsent = new UnsentRecords(ds)
    const [a, b] = [1, 2].map((i) => makeTask(60 + i).id)
    const marked = unsent.mark(a)
    unsent.copied(a)
    unsent.announced(a)
    await marked
    expect(counting.counts.other.put).toBe(0)
    await unsent.mark(b)
    expect(await unsent.load()).toEqual([]) // its own markers are not an earlier life's
    expect(unsent.size).toBe(1)
    expect(await new UnsentRecords(ds).load()).toEqual([b])
  })

  it('reads the one-record markers of earlier versions, and ends them', async () => {
    const { ds } = await fenced()
    const id = makeTask(70).id
    await ds.put(new Key(`${UNSENT_PREFIX}/${id}`), new Uint8Array(0))
    const unsent = new UnsentRecords(ds)
    expect(await unsent.load()).toEqual([id])
    unsent.copied(id)
    unsent.announced(id)
    await unsent.endNow()
    expect(await new UnsentRecords(ds).load()).toEqual([])
  })

  it('works on a datastore without a turn writer', async () => {
    const ds = new MemoryDatastore()
    const unsent = new UnsentRecords(ds)
    const [a, b] = [1, 2].map((i) => makeTask(80 + i).id)
    await Promise.all([unsent.mark(a), unsent.mark(b)])
    expect((await new UnsentRecords(ds).load()).sort()).toEqual([a, b].sort())
    for (const id of [a, b]) {
      unsent.copied(id)
      unsent.announced(id)
    }
    await unsent.endNow()
    expect(await new UnsentRecords(ds).load()).toEqual([])
  })
})

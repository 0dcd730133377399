import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Libp2pRecord } from '@libp2p/record'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CountingDatastore } from '../../../src/node/accounting/counting-datastore.ts'
import { fenceResultRecords, putResultRecord, storedRecordsOf } from '../../../src/node/results/fencing.ts'
import { UnsentRecords } from '../../../src/node/results/unsent-records.ts'
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
  it('a record made here keeps its marker until a copy and its notice are out; a later life finds the rest', async () => {
    const { counting, ds } = await fenced()
    const unsent = new UnsentRecords(ds)
    const [a, b, c] = [1, 2, 3].map((i) => makeTask(40 + i).id)
    // the marker goes in the batch of the record's own turn: no write of its own
    const k = resultKey(a)
    const value = await signResultRecord(makeRecord({ taskId: a, executor, epoch: 1 }), key)
    const markedA = unsent.mark(a)
    await putResultRecord(ds, k, new Libp2pRecord(k, value, new Date()).serialize())
    expect(counting.counts.records.batches).toBe(1)
    expect(counting.counts.other).toMatchObject({ batches: 1, put: 1 })
    await markedA
    const marked = [unsent.mark(b), unsent.mark(c)]
    unsent.copied(a)
    unsent.announced(b)
    unsent.copied(c)
    unsent.announced(c) // c is out: its marker goes
    unsent.copied('never-marked') // a copy of a record not made here changes nothing
    expect(unsent.size).toBe(2)
    expect(counting.counts.other.delete).toBe(0) // the deletes of sent records wait for company
    await Promise.all([...marked, unsent.endNow()])
    expect(unsent.size).toBe(2)
    expect(counting.counts.other.delete).toBe(1)

    // killed now: the next life finds a and b, and follows them until they are out
    const next = new UnsentRecords(ds)
    expect((await next.load()).sort()).toEqual([a, b].sort())
    next.copied(a)
    next.announced(a)
    next.forget(b) // no record of b was stored: nothing to send
    await next.endNow()
    expect(next.size).toBe(0)
    expect(await new UnsentRecords(ds).load()).toEqual([])
  })

  it('a record made again after its marker went gets a marker again', async () => {
    const { ds } = await fenced()
    const unsent = new UnsentRecords(ds)
    const id = makeTask(50).id
    const first = unsent.mark(id)
    unsent.copied(id)
    unsent.announced(id)
    const again = unsent.mark(id) // a later run of the task here, before the delete went
    await Promise.all([first, again, unsent.endNow()])
    expect(await new UnsentRecords(ds).load()).toEqual([id])
  })

  it('works on a datastore without a turn writer', async () => {
    const ds = new MemoryDatastore()
    const unsent = new UnsentRecords(ds)
    const id = makeTask(51).id
    await unsent.mark(id)
    expect(await new UnsentRecords(ds).load()).toEqual([id])
    unsent.copied(id)
    unsent.announced(id)
    await unsent.endNow()
    expect(await new UnsentRecords(ds).load()).toEqual([])
  })
})

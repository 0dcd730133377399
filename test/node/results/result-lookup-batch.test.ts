import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import type { FoundRecord } from '../../../src/node/results/batch-lookup.ts'
import { ResultStore } from '../../../src/node/results/result-store.ts'
import { readVerifiedResultRecord, signResultRecord } from '../../../src/protocol/records/result-record.ts'
import { makeRecord, makeTask } from '../../protocol/fixtures.ts'

const TASK = makeTask(601)
const OTHER = makeTask(602)
let key: PrivateKey
let executor: string

beforeAll(async () => {
  key = await generateKeyPair('Ed25519')
  executor = peerIdFromPrivateKey(key).toString()
})

async function found(taskId: string, epoch: number): Promise<FoundRecord> {
  const attempts = [{ executor, epoch, startedAt: 30, finishedAt: 40 }]
  const value = await signResultRecord(makeRecord({ taskId, executor, epoch, attempts }), key)
  return { record: readVerifiedResultRecord(value), value }
}

/**
 * A store whose DHT lookups find nothing and whose batch lookups answer `answers` (a task absent
 * from it: the batch cannot tell); `lookUp` resolves only once `release` is called when `held`,
 * and `started` once it was called.
 */
function storeWith(answers: Map<string, FoundRecord | null>, held = false) {
  const lookups = vi.fn(async function* () {})
  let release = () => {}
  const released = held ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve()
  let began = () => {}
  const started = new Promise<void>((resolve) => (began = resolve))
  const lookUp = vi.fn(async (ids: readonly string[]) => {
    began()
    await released
    return new Map(ids.flatMap((id) => (answers.has(id) ? [[id, answers.get(id) ?? null] as const] : [])))
  })
  const store = new ResultStore({
    dht: { routingTable: { size: 2 }, get: lookups } as never,
    replicator: { readLocal: async () => undefined } as never,
    signer: { sign: vi.fn() },
  })
  store.useBatch({ lookUp })
  return { store, lookups, lookUp, started, release: () => release() }
}

describe('ResultStore.get with a batch lookup', () => {
  it('takes a record the batch finds and keeps it, with no DHT lookup', async () => {
    const record = await found(TASK.id, 2)
    const { store, lookups, lookUp } = storeWith(new Map([[TASK.id, record]]))
    expect((await store.get(TASK.id))?.epoch).toBe(2)
    expect(store.cached(TASK.id)?.epoch).toBe(2)
    expect(lookUp).toHaveBeenCalledOnce()
    expect(lookups).not.toHaveBeenCalled()
    store.close()
  })

  it('answers none when the batch settles that no record exists, with no DHT lookup', async () => {
    const { store, lookups } = storeWith(new Map([[TASK.id, null]]))
    expect(await store.get(TASK.id)).toBeUndefined()
    expect(lookups).not.toHaveBeenCalled()
    store.close()
  })

  it('makes a DHT lookup for a task the batch cannot tell about, and only then', async () => {
    const { store, lookups } = storeWith(new Map())
    expect(await store.get(TASK.id)).toBeUndefined()
    expect(lookups).toHaveBeenCalledOnce()
    store.close()
  })

  it('asks no batch with dhtOnly: the read goes through kad-dht', async () => {
    const { store, lookups, lookUp } = storeWith(new Map([[TASK.id, null]]))
    expect(await store.get(TASK.id, { dhtOnly: true })).toBeUndefined()
    expect(lookUp).not.toHaveBeenCalled()
    expect(lookups).toHaveBeenCalledOnce()
    store.close()
  })

  it('asks the gets of one turn in one batch', async () => {
    const [a, b] = await Promise.all([found(TASK.id, 1), found(OTHER.id, 1)])
    const { store, lookUp } = storeWith(
      new Map([
        [TASK.id, a],
        [OTHER.id, b],
      ]),
    )
    const reads = await Promise.all([store.get(TASK.id), store.get(OTHER.id)])
    expect(reads.map((r) => r?.taskId)).toEqual([TASK.id, OTHER.id])
    expect(lookUp).toHaveBeenCalledOnce()
    expect(lookUp.mock.calls[0][0]).toEqual([TASK.id, OTHER.id])
    store.close()
  })

  it('rejects with the signal while the batch is out, and takes nothing from it', async () => {
    const held = storeWith(new Map([[TASK.id, await found(TASK.id, 1)]]), true)
    const { store, lookups, lookUp, release } = held
    const stop = new AbortController()
    const reading = store.get(TASK.id, { signal: stop.signal })
    await held.started
    stop.abort(new Error('the client hung up'))
    await expect(reading).rejects.toThrow('the client hung up')
    expect(lookups).not.toHaveBeenCalled()
    release()
    await lookUp.mock.results[0].value
    expect(store.cached(TASK.id)).toBeUndefined()
    store.close()
  })
})

import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { FoundRecord } from '../../../src/node/results/batch-lookup.ts'
import { POLL_BATCH_MS, PollBatches } from '../../../src/node/results/poll-batches.ts'
import { POLL_FIRST_MS } from '../../../src/node/results/result-lookup.ts'
import { ResultStore } from '../../../src/node/results/result-store.ts'
import { readVerifiedResultRecord, signResultRecord } from '../../../src/protocol/records/result-record.ts'
import { makeRecord, makeTask } from '../../protocol/fixtures.ts'

afterEach(() => {
  vi.useRealTimers()
})

describe('PollBatches', () => {
  it('sends the checks of one window as one lookup, each task once, and answers every caller', async () => {
    vi.useFakeTimers()
    const found = { record: {} as never, value: new Uint8Array([1]) }
    const lookUp = vi.fn(async (_ids: string[]) => new Map<string, FoundRecord | null>([['a', found]]))
    const batches = new PollBatches(lookUp)
    const verdicts = Promise.all([batches.check('a'), batches.check('b'), batches.check('a')])
    await vi.advanceTimersByTimeAsync(POLL_BATCH_MS)
    expect(await verdicts).toEqual([found, undefined, found])
    expect(lookUp).toHaveBeenCalledExactlyOnceWith(['a', 'b'])
    // the next window is a batch of its own
    const later = batches.check('c')
    await vi.advanceTimersByTimeAsync(POLL_BATCH_MS)
    expect(await later).toBeUndefined()
    expect(lookUp).toHaveBeenCalledTimes(2)
  })

  it('answers nothing when the lookup fails, and at once once closed', async () => {
    vi.useFakeTimers()
    const batches = new PollBatches(async () => {
      throw new Error('no peers')
    })
    const failed = batches.check('a')
    await vi.advanceTimersByTimeAsync(POLL_BATCH_MS)
    expect(await failed).toBeUndefined()
    const cut = batches.check('b')
    batches.close()
    expect(await cut).toBeUndefined()
    expect(await batches.check('c')).toBeUndefined()
  })
})

describe('ResultStore.poll with a batch lookup', () => {
  let key: PrivateKey
  let executor: string
  beforeAll(async () => {
    key = await generateKeyPair('Ed25519')
    executor = peerIdFromPrivateKey(key).toString()
  })

  it('makes no DHT lookup for tasks the batch settles, and wakes a waiter with the record it finds', async () => {
    vi.useFakeTimers()
    const dhtGet = vi.fn(async function* () {})
    const store = new ResultStore({
      dht: { routingTable: { size: 2 }, get: dhtGet } as never,
      replicator: { readLocal: async () => undefined } as never,
      signer: { sign: vi.fn() },
    })
    const tasks = Array.from({ length: 2_000 }, (_, i) => makeTask(20_000 + i).id)
    const unanswered = tasks[7]
    const value = await signResultRecord(
      makeRecord({
        taskId: tasks[3],
        executor,
        attempts: [{ executor, epoch: 1, startedAt: 30, finishedAt: 40 }],
      }),
      key,
    )
    let landed = false
    const lookUp = vi.fn(async (ids: string[]) => {
      const out = new Map<string, FoundRecord | null>()
      for (const id of ids) if (id !== unanswered) out.set(id, null)
      if (landed) out.set(tasks[3], { record: readVerifiedResultRecord(value), value })
      return out
    })
    store.useBatch({ lookUp })
    const signal = AbortSignal.timeout(60_000)
    const waiting = store.wait(tasks[3], signal)
    for (const id of tasks) void store.poll(id, signal)
    await vi.advanceTimersByTimeAsync(POLL_BATCH_MS)
    expect(lookUp).toHaveBeenCalledOnce()
    expect(lookUp.mock.calls[0][0]).toHaveLength(2_000)
    // only the task the batch did not answer for is looked up in the DHT
    expect(dhtGet).toHaveBeenCalledOnce()
    landed = true
    await vi.advanceTimersByTimeAsync(POLL_FIRST_MS + POLL_BATCH_MS)
    expect((await waiting).taskId).toBe(tasks[3])
    expect(store.cached(tasks[3])?.executor).toBe(executor)
    expect(lookUp).toHaveBeenCalledTimes(2)
    expect(dhtGet).toHaveBeenCalledTimes(2)
    store.close()
  })
})

import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { POLLS_PER_SECOND } from '../../../src/node/results/poll-pacer.ts'
import { GET_ATTEMPTS, GET_RETRY_MS, POLL_FIRST_MS } from '../../../src/node/results/result-lookup.ts'
import { ResultStore } from '../../../src/node/results/result-store.ts'
import { signResultRecord } from '../../../src/protocol/records/result-record.ts'
import { makeRecord, makeTask } from '../../protocol/fixtures.ts'

const TASK = makeTask(501)
let key: PrivateKey
let executor: string

beforeAll(async () => {
  key = await generateKeyPair('Ed25519')
  executor = peerIdFromPrivateKey(key).toString()
})

function valueAt(epoch: number): Promise<Uint8Array> {
  const attempts = [{ executor, epoch, startedAt: 30, finishedAt: 40 }]
  return signResultRecord(makeRecord({ taskId: TASK.id, executor, epoch, attempts }), key)
}

/** A store whose local copy is `local` and whose DHT lookups answer `answers` in turn (an Error: cut off). */
function storeWith(local: Uint8Array | undefined, answers: Array<Uint8Array | Error>) {
  const lookups = vi.fn(async function* () {
    const answer = answers.shift()
    if (answer instanceof Error) throw answer
    if (answer !== undefined) yield { name: 'VALUE', value: answer }
  })
  const dht = { routingTable: { size: 2 }, get: lookups }
  const replicator = {
    readLocal: async () => local,
    storeLocal: vi.fn(),
    replicate: vi.fn(),
  }
  const store = new ResultStore({
    dht: dht as never,
    replicator: replicator as never,
    signer: { sign: vi.fn() },
  })
  return { store, lookups }
}

const cutOff = () => Object.assign(new Error('The operation was aborted'), { name: 'AbortError' })

describe('ResultStore.get when the network lookup is cut off', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('answers with the local copy, then looks again until a finished lookup finds the record that wins', async () => {
    vi.useFakeTimers()
    // the local copy is of an earlier run; a later run (epoch 2) is in the DHT, but the first two
    // lookups are cut off (a loaded node, a lookup deadline)
    const [old, later] = await Promise.all([valueAt(1), valueAt(2)])
    const { store, lookups } = storeWith(old, [cutOff(), cutOff(), later])
    expect((await store.get(TASK.id))?.epoch).toBe(1)
    expect(store.cached(TASK.id)?.epoch).toBe(1)
    await vi.advanceTimersByTimeAsync(GET_RETRY_MS)
    expect(lookups).toHaveBeenCalledTimes(2)
    await vi.advanceTimersByTimeAsync(2 * GET_RETRY_MS)
    expect(lookups).toHaveBeenCalledTimes(3)
    expect(store.cached(TASK.id)?.epoch).toBe(2)
    // a finished lookup ends the retries
    await vi.advanceTimersByTimeAsync(10 * GET_RETRY_MS)
    expect(lookups).toHaveBeenCalledTimes(3)
    store.close()
  })

  it('stops looking again after a bounded number of tries', async () => {
    vi.useFakeTimers()
    const { store, lookups } = storeWith(await valueAt(1), Array.from({ length: 10 }, cutOff))
    await store.get(TASK.id)
    await vi.advanceTimersByTimeAsync(100 * GET_RETRY_MS)
    expect(lookups).toHaveBeenCalledTimes(GET_ATTEMPTS)
    store.close()
  })

  it('does not look again after a lookup that finished, found or not', async () => {
    vi.useFakeTimers()
    const notFound = Object.assign(new Error('not found'), { name: 'NotFoundError' })
    const { store, lookups } = storeWith(await valueAt(1), [notFound])
    expect((await store.get(TASK.id))?.epoch).toBe(1)
    await vi.advanceTimersByTimeAsync(100 * GET_RETRY_MS)
    expect(lookups).toHaveBeenCalledOnce()
    store.close()
  })
})

describe('ResultStore.poll', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('looks the record up again until one is found, then wakes the waiter and stops', async () => {
    vi.useFakeTimers()
    // no local copy; the record reaches the DHT only after two lookups (not replicated yet)
    const { store, lookups } = storeWith(undefined, [new Error('not found'), new Error('not found')])
    const later = await valueAt(2)
    const signal = AbortSignal.timeout(60_000)
    const waiting = store.wait(TASK.id, signal)
    void store.poll(TASK.id, signal)
    await vi.advanceTimersByTimeAsync(0)
    expect(lookups).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(POLL_FIRST_MS)
    expect(lookups).toHaveBeenCalledTimes(2)
    lookups.mockImplementation(async function* () {
      yield { name: 'VALUE', value: later }
    })
    await vi.advanceTimersByTimeAsync(2 * POLL_FIRST_MS)
    expect((await waiting).epoch).toBe(2)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(lookups).toHaveBeenCalledTimes(3)
    store.close()
  })

  it('paces the polls of many waiters: at most POLLS_PER_SECOND a second after the first burst', async () => {
    vi.useFakeTimers()
    const { store, lookups } = storeWith(undefined, [])
    const signal = AbortSignal.timeout(60_000)
    for (let i = 0; i < 2_000; i++) void store.poll(makeTask(10_000 + i).id, signal)
    await vi.advanceTimersByTimeAsync(0)
    expect(lookups).toHaveBeenCalledTimes(POLLS_PER_SECOND)
    await vi.advanceTimersByTimeAsync(10_000)
    // unpaced, each of 2,000 waiters polled at 0, 0.5, 1.5, 3.5 and 7.5 s: 10,000 lookups
    expect(lookups.mock.calls.length).toBeLessThanOrEqual(11 * POLLS_PER_SECOND + 1)
    expect(lookups.mock.calls.length).toBeGreaterThanOrEqual(10 * POLLS_PER_SECOND)
    store.close()
  })
})

describe('ResultStore.get and its lookup signal', () => {
  it('lets kad-dht listen to the signal once per path without a listener-leak warning', async () => {
    const value = await valueAt(1)
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.name)
    process.on('warning', onWarning)
    try {
      // kad-dht's lookup listens to the caller's signal once per disjoint path (10) and once more
      const lookups = vi.fn(async function* (_key: Uint8Array, opts: { signal: AbortSignal }) {
        for (let i = 0; i < 12; i++) opts.signal.addEventListener('abort', () => undefined)
        yield { name: 'VALUE', value }
      })
      const store = new ResultStore({
        dht: { routingTable: { size: 2 }, get: lookups } as never,
        replicator: { readLocal: async () => undefined } as never,
        signer: { sign: vi.fn() },
      })
      expect((await store.get(TASK.id, { signal: new AbortController().signal }))?.epoch).toBe(1)
      expect((await store.get(TASK.id, { skipCache: true }))?.epoch).toBe(1)
      // warnings are emitted on the next tick
      await new Promise((resolve) => setImmediate(resolve))
      expect(warnings).not.toContain('MaxListenersExceededWarning')
    } finally {
      process.off('warning', onWarning)
    }
  })
})

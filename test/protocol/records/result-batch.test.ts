import { readFile } from 'node:fs/promises'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { describe, expect, it, vi } from 'vitest'
import { RecordSigner, SIGN_WINDOW_FILL } from '../../../src/node/results/record-signer.ts'
import { InvalidRecordError } from '../../../src/protocol/errors.ts'
import * as ed25519 from '../../../src/protocol/records/ed25519.ts'
import {
  openResultRecordSync,
  type ResultRecord,
  readVerifiedResultRecord,
  resultKey,
  signResultBatch,
} from '../../../src/protocol/records/result-record.ts'
import { resultSelector } from '../../../src/protocol/records/result-selector.ts'
import { VerifiedRoots } from '../../../src/protocol/records/verified-roots.ts'
import { EXECUTOR, executorKey, makeRecord, makeTask, STRANGER, strangerKey } from '../fixtures.ts'

const text = new TextDecoder()
const records = (n: number, overrides: Partial<ResultRecord> = {}) =>
  Array.from({ length: n }, (_, i) => makeRecord({ taskId: makeTask(100 + i).id, output: i, ...overrides }))
// biome-ignore lint/suspicious/noExplicitAny: tests reach into parsed JSON freely
const edit = (value: Uint8Array, change: (v: any) => void) => {
  const parsed = JSON.parse(text.decode(value))
  change(parsed)
  return new TextEncoder().encode(JSON.stringify(parsed))
}
const refusal = (value: Uint8Array, key?: Uint8Array, roots?: VerifiedRoots) => {
  try {
    openResultRecordSync(value, key, roots)
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRecordError)
    return (err as Error).message
  }
  throw new Error('the value was accepted')
}

describe('batch-signed result records', () => {
  it('one signature covers a batch: every value carries it and opens to its own record', () => {
    const batch = records(5)
    const values = signResultBatch(batch, executorKey)
    const signatures = new Set(values.map((v) => JSON.parse(text.decode(v)).signature))
    expect(signatures.size).toBe(1)
    values.forEach((v, i) => {
      expect(openResultRecordSync(v, resultKey(batch[i].taskId))).toEqual(batch[i])
      expect(JSON.parse(text.decode(v)).proof).toMatchObject({ index: i, size: 5 })
    })
  })

  it('a batch of one has no proof, and is what signResultRecord made before batches', () => {
    const [value] = signResultBatch(records(1), executorKey)
    expect(JSON.parse(text.decode(value))).not.toHaveProperty('proof')
  })

  it('refuses a value whose proof, record or signature was changed, or moved to another record of the batch', () => {
    const batch = records(6)
    const values = signResultBatch(batch, executorKey)
    const [a, b] = values
    expect(refusal(edit(a, (v) => (v.proof.index = 1)))).toMatch(/bad signature/)
    expect(refusal(edit(a, (v) => (v.proof.size = 1)))).toMatch(/proof\.size|Too small/)
    expect(refusal(edit(values[5], (v) => (v.proof.size = 5)))).toMatch(/proof does not fit/)
    expect(refusal(edit(a, (v) => v.proof.path.pop()))).toMatch(/proof does not fit/)
    expect(refusal(edit(a, (v) => (v.record.output = 'forged')))).toMatch(/bad signature/)
    expect(refusal(edit(a, (v) => delete v.proof))).toMatch(/bad signature/)
    // b's proof with a's record proves nothing
    expect(refusal(edit(a, (v) => (v.proof = JSON.parse(text.decode(b)).proof)))).toMatch(/bad signature/)
    expect(refusal(edit(a, (v) => (v.proof.path[0] = `${'A'.repeat(43)}=`)))).toMatch(/bad signature/)
  })

  it('a root checked once is not checked again under the same signature, and never under another', () => {
    const spy = vi.spyOn(ed25519, 'verifyByPeer')
    const roots = new VerifiedRoots()
    const values = signResultBatch(records(8), executorKey)
    for (const v of values) openResultRecordSync(v, undefined, roots)
    // one check for the whole batch
    expect(spy.mock.calls.length).toBeLessThanOrEqual(1)
    expect(roots.size).toBe(1)
    // the same root under a forged signature is checked, and refused
    const forged = edit(values[3], (v) => {
      const sig = Buffer.from(v.signature, 'base64')
      sig[0] ^= 1
      v.signature = sig.toString('base64')
    })
    expect(refusal(forged, undefined, roots)).toMatch(/bad signature/)
    spy.mockRestore()
  })

  it('refuses to sign what is not the signer’s, an empty batch, or a batch over the limit', () => {
    expect(() => signResultBatch([], executorKey)).toThrow(/1 to 1024/)
    expect(() => signResultBatch(records(1025), executorKey)).toThrow(/1 to 1024/)
    expect(() => signResultBatch(records(2), strangerKey)).toThrow(`is not the signing peer ${STRANGER}`)
  })

  it('the selector ranks batch-signed values like any others: highest epoch first', () => {
    const id = makeTask(7).id
    const [low] = signResultBatch([makeRecord({ taskId: id, epoch: 1 })], executorKey)
    const [, high] = signResultBatch([records(1)[0], makeRecord({ taskId: id, epoch: 2 })], executorKey)
    expect(resultSelector(resultKey(id), [low, high])).toBe(1)
    expect(resultSelector(resultKey(id), [high, low])).toBe(0)
    expect(readVerifiedResultRecord(high).epoch).toBe(2)
  })

  it('PROTOCOL.md’s example value is what signing gives', async () => {
    const doc = await readFile(new URL('../../../docs/PROTOCOL.md', import.meta.url), 'utf8')
    const example = doc
      .split('\n')
      .find((l) => l.startsWith('{"record":{"attempts":') && l.includes('bafkreid4hcai5'))
    expect(example).toBeDefined()
    const key = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(7))
    const { record } = JSON.parse(example as string)
    expect(text.decode(signResultBatch([record], key)[0])).toBe(example)
  })
})

describe('RecordSigner', () => {
  it('records signed in one turn share a signature; a bad record fails alone', async () => {
    const signer = new RecordSigner(executorKey)
    const good = records(3)
    const bad = makeRecord({ taskId: makeTask(999).id, executor: STRANGER })
    const results = await Promise.allSettled([...good, bad].map((r) => signer.sign(r)))
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected'])
    const sigs = results
      .slice(0, 3)
      .map((r) => JSON.parse(text.decode((r as PromiseFulfilledResult<Uint8Array>).value)).signature)
    // the bad record spoiled the batch: the good ones were signed again one by one
    for (const [i, r] of results.slice(0, 3).entries()) {
      expect(openResultRecordSync((r as PromiseFulfilledResult<Uint8Array>).value)).toEqual(good[i])
    }
    expect(sigs).toHaveLength(3)
    // without a bad one, one signature for all
    const again = await Promise.all(records(4).map((r) => signer.sign(r)))
    expect(new Set(again.map((v) => JSON.parse(text.decode(v)).signature)).size).toBe(1)
    expect(EXECUTOR).toBe(good[0].executor)
  })

  it('with a window, records finishing soon after a signature while others run wait and share one', async () => {
    // the signer's clock and timers are the test's: "at once" means before any timer could fire,
    // "waits" means until the window's timer fires, however loaded the machine
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    try {
      /** A real turn of the event loop: a record signed at once is signed by then, one that waits is not. */
      const turn = () => new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))
      const settled = <T>(p: Promise<T>) => Promise.race([p, turn()])
      let running = true
      const signer = new RecordSigner(executorKey, 256, undefined, { ms: 40, more: () => running })
      const sigOf = (v: Uint8Array) => JSON.parse(text.decode(v)).signature as string
      const [r1, r2, r3] = records(3)
      // the first record after a quiet spell is signed at once
      const first = await settled(signer.sign(r1))
      expect(first).toBeInstanceOf(Uint8Array)
      const second = signer.sign(r2)
      await turn() // a later turn of the event loop
      const third = signer.sign(r3)
      const both = Promise.all([second, third])
      // they wait for the window: not signed short of its 40 ms, signed together at its end
      await vi.advanceTimersByTimeAsync(39)
      expect(await settled(both)).toBe('pending')
      await vi.advanceTimersByTimeAsync(1)
      const [v2, v3] = await both
      expect(sigOf(v2)).toBe(sigOf(v3))
      expect(sigOf(v2)).not.toBe(sigOf(first as Uint8Array))
      expect(openResultRecordSync(v3)).toEqual(r3)
      // nothing else running: no company to wait for, signed at once even right after a signature
      running = false
      expect(await settled(signer.sign(records(1)[0]))).toBeInstanceOf(Uint8Array)
      // a window's batch goes out as soon as it has company enough, without waiting for the window
      const patient = new RecordSigner(executorKey, 256, undefined, { ms: 1_000, more: () => true })
      await patient.sign(records(1)[0])
      const company = Promise.all(
        records(SIGN_WINDOW_FILL).map(async (r, i) => {
          await new Promise((resolve) => setTimeout(resolve, i)) // one by one, in later turns
          return patient.sign(r)
        }),
      )
      await vi.advanceTimersByTimeAsync(SIGN_WINDOW_FILL - 1) // the last one comes 15 ms on, the window is 1 s
      const values = await settled(company)
      expect(values).not.toBe('pending')
      expect(new Set((values as Uint8Array[]).map(sigOf)).size).toBe(1)
    } finally {
      vi.useRealTimers()
    }
    expect(() => new RecordSigner(executorKey, 256, undefined, { ms: -1, more: () => true })).toThrow(
      /window\.ms/,
    )
  })
})

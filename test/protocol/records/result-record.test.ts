import { describe, expect, it } from 'vitest'
import { MAX_RECORD_BYTES } from '../../../src/protocol/constants.ts'
import { InvalidRecordError } from '../../../src/protocol/errors.ts'
import { GrantSigner } from '../../../src/protocol/records/grant-proof.ts'
import {
  batchSigningPayload,
  openResultRecord,
  type ResultRecord,
  recordFromBase64,
  recordLeaf,
  recordToBase64,
  resultKey,
  resultValidator,
  signResultRecord,
  taskIdFromResultKey,
} from '../../../src/protocol/records/result-record.ts'
import { resultSelector } from '../../../src/protocol/records/result-selector.ts'
import {
  EXECUTOR,
  executorKey,
  makeRecord,
  makeTask,
  OWNER,
  ownerKey,
  STRANGER,
  strangerKey,
} from '../fixtures.ts'

const text = new TextDecoder()
const taskIdOf = makeTask().id
const key = resultKey(taskIdOf)

/** Parses a signed value, lets `edit` change it, and re-encodes it. */
function tamper(
  value: Uint8Array,
  edit: (signed: { record: Record<string, unknown>; signature: string }) => void,
) {
  const signed = JSON.parse(text.decode(value))
  edit(signed)
  return new TextEncoder().encode(JSON.stringify(signed))
}

async function refusal(value: Uint8Array, expectedKey: Uint8Array | undefined = key): Promise<string> {
  const err = await openResultRecord(value, expectedKey).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(InvalidRecordError)
  expect((err as InvalidRecordError).code).toBe('ERR_INVALID_RECORD')
  return (err as Error).message
}

describe('result records', () => {
  it('uses a three-segment key under taskmesh-result', () => {
    expect(text.decode(key)).toBe(`/taskmesh-result/${taskIdOf}`)
    expect(taskIdFromResultKey(key)).toBe(taskIdOf)
    expect(taskIdFromResultKey(new TextEncoder().encode('/ipns/abc'))).toBeUndefined()
  })

  it('round-trips sign → open, with and without the key', async () => {
    const record = makeRecord()
    const value = await signResultRecord(record, executorKey)
    expect(await openResultRecord(value, key)).toEqual(record)
    expect(await openResultRecord(value)).toEqual(record)
    await expect(resultValidator(key, value)).resolves.toBeUndefined()
    expect(recordFromBase64(recordToBase64(value))).toEqual(value)
  })

  it('signs the same record to the same bytes whatever its key order', async () => {
    const record = makeRecord()
    const reversed = Object.fromEntries(Object.entries(record).reverse()) as typeof record
    const a = JSON.parse(text.decode(await signResultRecord(record, executorKey)))
    const b = JSON.parse(text.decode(await signResultRecord(reversed, executorKey)))
    expect(a.signature).toBe(b.signature)
  })

  it('refuses a tampered output', async () => {
    const value = tamper(await signResultRecord(makeRecord(), executorKey), (s) => {
      s.record.output = { sum: 4 }
    })
    expect(await refusal(value)).toMatch(/bad signature/)
  })

  it('refuses a raised epoch (fencing cannot be forged)', async () => {
    const value = tamper(await signResultRecord(makeRecord(), executorKey), (s) => {
      s.record.epoch = 99
    })
    expect(await refusal(value)).toMatch(/bad signature/)
  })

  it('refuses a record under another task key', async () => {
    const value = await signResultRecord(makeRecord(), executorKey)
    expect(await refusal(value, resultKey(makeTask(5).id))).toMatch(/key does not match/)
    await expect(resultValidator(resultKey(makeTask(5).id), value)).rejects.toBeInstanceOf(InvalidRecordError)
  })

  it('refuses a forged executor: signed by a different key', async () => {
    const forged = tamper(await signResultRecord(makeRecord({ executor: STRANGER }), strangerKey), (s) => {
      s.record.executor = EXECUTOR
    })
    expect(await refusal(forged)).toMatch(/bad signature/)
  })

  it('refuses an executor that is not a peer id', async () => {
    const value = tamper(await signResultRecord(makeRecord(), executorKey), (s) => {
      s.record.executor = 'not-a-peer'
    })
    expect(await refusal(value)).toMatch(/executor: not a peer id/)
  })

  it('refuses a signature that is not base64', async () => {
    const value = tamper(await signResultRecord(makeRecord(), executorKey), (s) => {
      s.signature = '***'
    })
    expect(await refusal(value)).toMatch(/signature/)
  })

  it('refuses oversized values before parsing', async () => {
    const value = new Uint8Array(MAX_RECORD_BYTES + 1).fill(0x20)
    expect(await refusal(value)).toMatch(
      `${MAX_RECORD_BYTES + 1} bytes, over the limit of ${MAX_RECORD_BYTES}`,
    )
  })

  it.each([
    ['empty', new Uint8Array(0)],
    ['garbage', new Uint8Array([0xde, 0xad, 0xbe, 0xef])],
    ['JSON of the wrong shape', new TextEncoder().encode('{"record":1,"signature":"AA=="}')],
    ['a bare record', new TextEncoder().encode(JSON.stringify(makeRecord()))],
  ])('refuses %s', async (_name, value) => {
    await refusal(value)
  })

  it('refuses to sign for another executor, or an oversized record', async () => {
    await expect(signResultRecord(makeRecord(), ownerKey)).rejects.toThrow(/is not the signing peer/)
    await expect(signResultRecord(makeRecord({ error: 'x'.repeat(20_000) }), executorKey)).rejects.toThrow(
      InvalidRecordError,
    )
    const big = makeRecord({ output: Array.from({ length: 3 }, () => 'y'.repeat(200_000)) })
    await expect(signResultRecord(big, executorKey)).rejects.toThrow(/output: over the limit/)
  })

  it('refuses malformed base64 instead of skipping characters', () => {
    expect(() => recordFromBase64('ab$d')).toThrow(InvalidRecordError)
  })
})

describe('result selector', () => {
  const signedBy = async (overrides: Parameters<typeof makeRecord>[0], by = executorKey) =>
    signResultRecord(makeRecord(overrides), by)

  function permutations<T>(items: T[]): T[][] {
    if (items.length <= 1) return [items]
    return items.flatMap((item, i) =>
      permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
    )
  }

  it('prefers the higher epoch, even over success', async () => {
    const old = await signedBy({ epoch: 1, status: 'succeeded' })
    const newer = await signedBy({ epoch: 2, status: 'failed', output: undefined, error: 'boom' })
    expect(resultSelector(key, [old, newer])).toBe(1)
    expect(resultSelector(key, [newer, old])).toBe(0)
  })

  it('prefers succeeded over failed at the same epoch', async () => {
    const failed = await signedBy({ status: 'failed', output: undefined, error: 'boom', finishedAt: 1 })
    const succeeded = await signedBy({ status: 'succeeded', finishedAt: 50 })
    expect(resultSelector(key, [failed, succeeded])).toBe(1)
  })

  it('prefers the earlier finish, then the smaller signature', async () => {
    const late = await signedBy({ finishedAt: 60 })
    const early = await signedBy({ finishedAt: 41 })
    expect(resultSelector(key, [late, early])).toBe(1)
    const a = await signedBy({ finishedAt: 41 }, executorKey)
    const b = await signedBy({ executor: OWNER, finishedAt: 41 }, ownerKey)
    const sigOf = (v: Uint8Array) => Buffer.from(JSON.parse(text.decode(v)).signature, 'base64')
    const smaller = Buffer.compare(sigOf(a), sigOf(b)) < 0 ? a : b
    expect([a, b][resultSelector(key, [a, b])]).toBe(smaller)
    expect([b, a][resultSelector(key, [b, a])]).toBe(smaller)
  })

  it('lets invalid values lose, and returns 0 when all are invalid', async () => {
    const good = await signedBy({ epoch: 1 })
    const forged = tamper(await signedBy({ epoch: 1 }), (s) => {
      s.record.epoch = 1000
    })
    const otherTask = await signedBy({ epoch: 50, taskId: makeTask(9).id })
    const junk = new Uint8Array([1, 2, 3])
    expect(resultSelector(key, [forged, junk, otherTask, good])).toBe(3)
    expect(resultSelector(key, [junk, forged])).toBe(0)
    expect(resultSelector(key, [])).toBe(0)
  })

  it('picks the same value for every permutation of a set', async () => {
    const values = [
      await signedBy({ epoch: 3, status: 'failed', output: undefined, error: 'x', finishedAt: 10 }),
      await signedBy({ epoch: 3, finishedAt: 70 }),
      await signedBy({ epoch: 3, finishedAt: 70, output: 'other' }),
      await signedBy({ epoch: 2, finishedAt: 1 }),
      new Uint8Array([9, 9, 9]),
    ]
    const picks = new Set(permutations(values).map((p) => p[resultSelector(key, p)]))
    expect(picks.size).toBe(1)
    const [pick] = picks
    const record = await openResultRecord(pick, key)
    expect(record.epoch).toBe(3)
    expect(record.status).toBe('succeeded')
  })
})

describe('result records: the owner’s grant', () => {
  it('a record of another executor than the owner verifies with the owner’s proof of that lease', async () => {
    const record = makeRecord()
    expect(record.executor).not.toBe(record.owner)
    expect(record.grant).toBeDefined()
    expect(await openResultRecord(await signResultRecord(record, executorKey), key)).toEqual(record)
  })

  it('refuses, at signing and at reading, a record with no grant, or with a grant of another lease', async () => {
    const lease = makeRecord()
    const cases: Array<[string, ResultRecord, RegExp]> = [
      ['no grant', { ...lease, grant: undefined }, /is not the owner .* shows no grant/],
      ['a raised epoch', { ...lease, epoch: lease.epoch + 1 }, /grant is not .* at epoch 3/],
      ['another task', { ...lease, taskId: makeTask(8).id }, /grant is not/],
      [
        'a grant the executor signed itself',
        makeRecord({ grant: new GrantSigner(executorKey).sign(lease.taskId, EXECUTOR, lease.epoch) }),
        /grant is not/,
      ],
      [
        'a grant of the task to another peer',
        makeRecord({ grant: new GrantSigner(ownerKey).sign(lease.taskId, STRANGER, lease.epoch) }),
        /grant is not/,
      ],
    ]
    for (const [name, record, message] of cases) {
      const withoutGrant = { ...record }
      if (withoutGrant.grant === undefined) delete withoutGrant.grant
      await expect(signResultRecord(withoutGrant, executorKey), name).rejects.toThrow(message)
      // signed anyway (as a forger would, bypassing signResultRecord's check): refused on reading
      const forged = tamper(await signResultRecord(makeRecord(), executorKey), (s) => {
        Object.assign(s.record, withoutGrant)
        if (withoutGrant.grant === undefined) delete s.record.grant
      })
      const resigned = await resign(forged, executorKey)
      expect(await refusal(resigned, resultKey(withoutGrant.taskId)), name).toMatch(message)
      expect(resultSelector(resultKey(withoutGrant.taskId), [resigned]), name).toBe(0)
    }
  })

  it('an owner’s own record needs no grant and may carry none', async () => {
    const own = makeRecord({ executor: OWNER })
    expect(own.grant).toBeUndefined()
    await expect(openResultRecord(await signResultRecord(own, ownerKey), key)).resolves.toEqual(own)
    const proof = new GrantSigner(ownerKey).sign(own.taskId, OWNER, own.epoch)
    await expect(signResultRecord({ ...own, grant: proof }, ownerKey)).rejects.toThrow(
      /owner's own record carries a grant/,
    )
  })

  it('an ungranted record of a higher epoch loses the selector to the granted one', async () => {
    const granted = await signResultRecord(makeRecord({ epoch: 2 }), executorKey)
    const ungranted = await resign(
      tamper(granted, (s) => {
        s.record.epoch = 50
      }),
      executorKey,
    )
    expect(resultSelector(key, [ungranted, granted])).toBe(1)
    expect(resultSelector(key, [granted, ungranted])).toBe(0)
  })
})

/** Signs a value's record again with `by`, as a batch of one (a forger's own valid signature over whatever it holds). */
async function resign(value: Uint8Array, by: typeof executorKey): Promise<Uint8Array> {
  const { record } = JSON.parse(text.decode(value))
  const signature = await by.sign(batchSigningPayload(recordLeaf(record)))
  return new TextEncoder().encode(
    JSON.stringify({ record, signature: Buffer.from(signature).toString('base64') }),
  )
}

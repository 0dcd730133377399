import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { isWellFormedSignedResult } from '../../../src/protocol/records/record-fast-check.ts'
import { signedResultSchema, signResultBatch } from '../../../src/protocol/records/result-record.ts'
import { MAX_OUTPUT_BYTES } from '../../../src/task/limits.ts'
import { makeRecord, makeTask } from '../fixtures.ts'

let signed: unknown[] = []

beforeAll(async () => {
  const key = await generateKeyPair('Ed25519')
  const executor = peerIdFromPrivateKey(key).toString()
  const records = [1, 2, 3].map((i) =>
    makeRecord({
      taskId: makeTask(i).id,
      executor,
      owner: executor,
      attempts: [{ executor, epoch: 1, startedAt: 30, finishedAt: 40, error: 'x', cut: 'lost' }],
    }),
  )
  signed = signResultBatch(records, key).map((v) => JSON.parse(Buffer.from(v).toString('utf8')))
})

/** Where a change may land in a signed value. */
const PATHS: string[][] = [
  ['record'],
  ['signature'],
  ['proof'],
  ...['v', 'taskId', 'status', 'output', 'error', 'executor', 'owner', 'epoch', 'grant', 'attempts'].map(
    (k) => ['record', k],
  ),
  ...['submittedAt', 'startedAt', 'finishedAt'].map((k) => ['record', k]),
  ...['executor', 'epoch', 'startedAt', 'error', 'stack', 'cut', 'extra'].map((k) => [
    'record',
    'attempts',
    '0',
    k,
  ]),
  ['proof', 'index'],
  ['proof', 'size'],
  ['proof', 'path'],
  ['proof', 'path', '0'],
]

const edgeValue = fc.oneof(
  fc.constantFrom(0, -1, 1, 1.5, 1023, 1024, 1025, 2, 8_640_000_000_000_000, 8_640_000_000_000_001),
  fc.constantFrom('', 'x', 'lost', 'failed', 'succeeded', 'QQ==', 'QR==', 'A'.repeat(44), 'A'.repeat(88)),
  fc.constantFrom(null, true, [], {}, ['x'], 'x'.repeat(16 * 1024 + 1)),
  fc.jsonValue({ maxDepth: 3 }),
)

const change = fc.record({
  path: fc.constantFrom(...PATHS),
  value: fc.option(edgeValue), // null: delete the key
  at: fc.nat(2),
})

function changed(changes: Array<{ path: string[]; value: unknown; at: number }>): unknown {
  const value = JSON.parse(JSON.stringify(signed[changes[0].at]))
  for (const { path, value: v } of changes) {
    let target = value
    for (const key of path.slice(0, -1))
      target = typeof target === 'object' && target !== null ? target[key] : undefined
    if (typeof target !== 'object' || target === null) continue
    const last = path[path.length - 1]
    if (v === null) delete target[last]
    else target[last] = v
  }
  return value
}

describe('the fast signed-record check', () => {
  it('takes the fast path for signed records as a signer makes them', () => {
    for (const value of signed) expect(isWellFormedSignedResult(value)).toBe(true)
  })

  it('is sound: it accepts nothing the signed-record schema refuses', () => {
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 3 }), (changes) => {
        const value = changed(changes)
        if (isWellFormedSignedResult(value)) expect(signedResultSchema.safeParse(value).success).toBe(true)
      }),
      { numRuns: 3000 },
    )
  })

  it('bounds an output as the schema does, at the limit and past it, scalars and strings too', () => {
    const n = MAX_OUTPUT_BYTES
    const outputs: unknown[] = [
      null,
      true,
      -1.5e300,
      'x'.repeat(n - 2), // its JSON exactly at the limit
      'x'.repeat(n - 1), // one byte over
      '\u0001'.repeat((n - 2) / 6 - 1), // 6 bytes a unit, under the limit: counted without serialising
      '\u0001'.repeat(Math.ceil((n - 2) / 6)), // over
      'é'.repeat((n - 2) / 2), // 2 bytes a unit, exactly at the limit
      'é'.repeat((n - 2) / 2 + 1),
      ['x'.repeat(n - 4)], // exactly at the limit
      ['x'.repeat(n - 3)],
    ]
    for (const output of outputs) {
      const value = JSON.parse(JSON.stringify(signed[0]))
      value.record.output = output
      const fits = Buffer.byteLength(JSON.stringify(output)) <= n
      expect(signedResultSchema.safeParse(value).success).toBe(fits)
      expect(isWellFormedSignedResult(value)).toBe(fits)
    }
  })
})

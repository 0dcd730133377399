import { describe, expect, it } from 'vitest'
import { decodeMessage } from '../../../src/protocol/codec.ts'
import { MAX_FRAME_BYTES, MAX_RECORD_BYTES } from '../../../src/protocol/constants.ts'
import { InvalidRecordError } from '../../../src/protocol/errors.ts'
import { arrayMemberSpans } from '../../../src/protocol/messages/array-spans.ts'
import {
  encodeStoreFrame,
  isWellFormedStoreRequest,
  storeRequestSchema,
} from '../../../src/protocol/messages/replicate-messages.ts'
import { leafHash, leafHashOfText } from '../../../src/protocol/records/merkle.ts'
import { openEnvelopeBytes } from '../../../src/protocol/records/record-envelope.ts'
import {
  openEnvelopeText,
  openResultRecordSync,
  type ResultRecord,
  resultKey,
  type SignedEnvelope,
  signResultBatch,
} from '../../../src/protocol/records/result-record.ts'
import { VerifiedRoots } from '../../../src/protocol/records/verified-roots.ts'
import { EXECUTOR, executorKey, makeRecord, makeTask, OWNER } from '../fixtures.ts'

const own = (i: number): ResultRecord =>
  makeRecord({
    taskId: makeTask(700 + i).id,
    owner: EXECUTOR,
    epoch: 1,
    attempts: [{ executor: EXECUTOR, epoch: 1, startedAt: 30, finishedAt: 40 }],
  })
const parse = (value: Uint8Array): SignedEnvelope => JSON.parse(Buffer.from(value).toString('utf8'))
const refusal = (envelope: SignedEnvelope) => {
  try {
    openEnvelopeText(envelope)
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRecordError)
    return (err as Error).message
  }
  throw new Error('the envelope was accepted')
}

describe('signed records as parsed JSON (store frames carry them so)', () => {
  it('opens to the record and to the executor value, byte for byte, in a batch and alone', () => {
    for (const batch of [[0, 1, 2, 3, 4].map(own), [own(9)], [makeRecord({ taskId: makeTask(720).id })]]) {
      const values = signResultBatch(batch, executorKey)
      const roots = new VerifiedRoots()
      values.forEach((value, i) => {
        const opened = openEnvelopeText(parse(value), roots)
        expect(opened.record).toEqual(batch[i])
        expect(Buffer.from(opened.value.pieces.join(''), 'utf8').equals(Buffer.from(value))).toBe(true)
      })
      // one signature check for the batch
      expect(roots.counts.recordBatchesVerified).toBe(1)
    }
  })

  it('keeps the stored form whatever the key order it came in, and that form verifies as a value', () => {
    const [value] = signResultBatch([own(10), own(11)], executorKey)
    const { record, signature, proof } = parse(value)
    const shuffled = {
      proof: proof && { path: proof.path, size: proof.size, index: proof.index },
      signature,
      record: Object.fromEntries(Object.entries(record).reverse()) as unknown as ResultRecord,
    }
    const opened = Buffer.from(openEnvelopeText(shuffled).value.pieces.join(''), 'utf8')
    expect(opened.equals(Buffer.from(value))).toBe(true)
    expect(openResultRecordSync(opened, resultKey(record.taskId))).toEqual(record)
  })

  it('refuses a changed record, a proof moved to another leaf, and an executor without a key', () => {
    const values = signResultBatch([own(12), own(13), own(14)], executorKey)
    const first = parse(values[0])
    expect(refusal({ ...first, record: { ...first.record, output: 'forged' } })).toMatch(/bad signature/)
    const moved = { ...first, proof: first.proof && { ...first.proof, index: 1 } }
    expect(refusal(moved)).toMatch(/bad signature/)
    const stranger = { ...first, record: { ...first.record, executor: OWNER.slice(0, 20) } }
    expect(refusal(stranger)).toMatch(/has no embedded Ed25519 key/)
  })

  it('takes a batch from its own executor unchecked, and checks one that anyone else passes on', () => {
    const values = signResultBatch([own(15), own(16)], executorKey)
    const [first, second] = values.map(parse)
    // a signature no check would pass: only the executor's word stands for it
    const unsigned = (e: SignedEnvelope): SignedEnvelope => ({ ...e, signature: `${'A'.repeat(86)}==` })
    const roots = new VerifiedRoots()
    expect(() => openEnvelopeText(unsigned(first), roots, OWNER)).toThrow(/bad signature/)
    expect(roots.counts).toMatchObject({ recordBatchesVerified: 1, recordsFromSigner: 0 })
    expect(openEnvelopeText(unsigned(first), roots, EXECUTOR).record).toEqual(first.record)
    expect(openEnvelopeText(unsigned(second), roots, EXECUTOR).record).toEqual(second.record)
    expect(roots.counts).toMatchObject({ recordBatchesVerified: 1, recordsFromSigner: 2 })
    // the executor's word is not remembered as a check: passed on by another, the batch is checked
    expect(() => openEnvelopeText(unsigned(second), roots, OWNER)).toThrow(/bad signature/)
    expect(roots.counts).toMatchObject({ recordBatchesVerified: 2, recordsFromSigner: 2 })
    // every other check still holds for the executor's own batch
    const moved = { ...first, proof: first.proof && { ...first.proof, size: 9 } }
    expect(() => openEnvelopeText(moved, new VerifiedRoots(), EXECUTOR)).toThrow(/does not fit a batch/)
    // a value read whole, as a completion carries it, likewise
    const stored = Buffer.from(
      openEnvelopeText(unsigned(first), new VerifiedRoots(), EXECUTOR).value.pieces.join(''),
      'utf8',
    )
    const key = resultKey(first.record.taskId)
    expect(openResultRecordSync(stored, key, undefined, EXECUTOR)).toEqual(first.record)
    expect(() => openResultRecordSync(stored, key, undefined, OWNER)).toThrow(/bad signature/)
  })
})

describe('store frames', () => {
  const values = signResultBatch([own(20), own(21), own(22)], executorKey)

  it("each record's bytes in the frame are its executor's value, opened with the same checks", () => {
    const bytes = encodeStoreFrame('r0', values)
    const spans = arrayMemberSpans(bytes, 'records') as number[]
    values.forEach((value, i) => {
      const element = bytes.subarray(spans[2 * i], spans[2 * i + 1])
      expect(Buffer.from(element).equals(Buffer.from(value))).toBe(true)
      expect(openEnvelopeBytes(parse(value), element, new VerifiedRoots(), EXECUTOR)).toEqual(
        parse(value).record,
      )
    })
    const first = parse(values[0])
    const moved = { ...first, proof: first.proof && { ...first.proof, size: 9 } }
    expect(() => openEnvelopeBytes(moved, values[0], undefined, EXECUTOR)).toThrow(/does not fit a batch/)
    const ungranted = { ...first, record: { ...first.record, owner: OWNER } }
    expect(() => openEnvelopeBytes(ungranted, values[0], undefined, EXECUTOR)).toThrow(/shows no grant/)
    const large = new Uint8Array(MAX_RECORD_BYTES + 1)
    expect(() => openEnvelopeBytes(first, large, undefined, EXECUTOR)).toThrow(/over the limit of 524288/)
  })

  it('are written with the values as they are, and read back as the parsed values', () => {
    const bytes = encodeStoreFrame('r1', values, { relay: [0, 2], ahead: [[], ['0123abcd']] })
    const frame = decodeMessage(storeRequestSchema, bytes, MAX_FRAME_BYTES, 'store frame')
    expect(frame).toEqual({
      type: 'store',
      requestId: 'r1',
      records: values.map(parse),
      relay: [0, 2],
      ahead: [[], ['0123abcd']],
    })
    expect(isWellFormedStoreRequest(frame)).toBe(true)
    const bare = decodeMessage(
      storeRequestSchema,
      encodeStoreFrame('r2', values.slice(0, 1)),
      MAX_FRAME_BYTES,
      'f',
    )
    expect(bare).toEqual({ type: 'store', requestId: 'r2', records: [parse(values[0])] })
  })

  it('the quick check passes only frames the schema accepts, and refuses the usual mistakes', () => {
    const records = values.map(parse)
    const frames: unknown[] = [
      { type: 'store', requestId: 'r', records },
      { type: 'store', requestId: 'r', records, relay: [2] },
      { type: 'store', requestId: 'r', records, relay: [1], ahead: [['0123abcd']] },
      { type: 'store', requestId: 'r', records, ahead: [] },
      { type: 'store', requestId: 'r', records, relay: [3] },
      { type: 'store', requestId: 'r', records, relay: [0], ahead: [[], []] },
      { type: 'store', requestId: 'r', records, relay: [0], ahead: [['XYZ']] },
      { type: 'store', requestId: 'r', records: [] },
      { type: 'store', requestId: '', records },
      { type: 'store', requestId: 'r', records: [Buffer.from(values[0]).toString('base64')] },
      { type: 'store', requestId: 'r', records: [{ ...records[0], extra: 1 }] },
      { type: 'store', requestId: 'r', records, more: true },
    ]
    const verdicts = frames.map((f) => [isWellFormedStoreRequest(f), storeRequestSchema.safeParse(f).success])
    for (const [quick, schema] of verdicts) if (quick) expect(schema).toBe(true)
    expect(verdicts.map(([, schema]) => schema)).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ])
    expect(verdicts.slice(0, 4).every(([quick]) => quick)).toBe(true)
  })
})

describe('leafHashOfText', () => {
  it('is the leaf hash of the UTF-8 bytes, for any text (non-ASCII and NUL included)', () => {
    const near = '✓'.repeat(2730) // 8,190 UTF-8 bytes: the longest written into the scratch
    for (const text of [
      '',
      '{"a":1}',
      'héllo ✓ 🚀',
      '\u0000\u0001x',
      'lone \ud800',
      near,
      'a'.repeat(5000),
    ]) {
      expect(Buffer.from(leafHashOfText(text)).equals(Buffer.from(leafHash(Buffer.from(text, 'utf8'))))).toBe(
        true,
      )
    }
  })
})

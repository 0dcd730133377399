import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { checkJsonShape, decodeMessage, encodeMessage } from '../../src/protocol/codec.ts'
import {
  MAX_FRAME_BYTES,
  MAX_LEASES_PER_MESSAGE,
  MAX_NOTICE_BYTES,
  MAX_NOTICES_PER_MESSAGE,
} from '../../src/protocol/constants.ts'
import { InvalidMessageError, InvalidRecordError } from '../../src/protocol/errors.ts'
import { decodeBeacon } from '../../src/protocol/messages/beacon-messages.ts'
import { decodeCustodyFrame } from '../../src/protocol/messages/custody-messages.ts'
import { decodeResultNotice, validateResultNotice } from '../../src/protocol/messages/gossip-validators.ts'
import {
  beaconSchema,
  holdRequestSchema,
  resultNoticeSchema,
  stealFrameSchema,
  stealReplySchema,
  submitFrameSchema,
  submitReplySchema,
} from '../../src/protocol/messages/messages.ts'
import { openResultRecord, resultKey, signResultRecord } from '../../src/protocol/records/result-record.ts'
import { resultSelector } from '../../src/protocol/records/result-selector.ts'
import { canonicalJson } from '../../src/task/task-id.ts'
import {
  bytesOf,
  executorKey,
  holdOf,
  LEASE_PROOF,
  makeBeacon,
  makeComplete,
  makeCompleted,
  makeCompletion,
  makeNotice,
  makeNoticeEntry,
  makeRecord,
  makeStealRequest,
  makeTask,
  relay,
  signedMessage,
} from './fixtures.ts'

const RUNS = 200
const DELETE = Symbol('delete')

/** Arbitrary bytes: random, random text, and random JSON. */
const junkBytes = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 100 }).map((s) => new TextEncoder().encode(s)),
  fc.jsonValue({ maxDepth: 4 }).map(bytesOf),
)

/** A copy of `value` with one spot, found by following `path`, replaced or deleted. */
function mutate(value: unknown, path: number[], replacement: unknown): unknown {
  const copy = structuredClone(value)
  let container: unknown = copy
  for (let i = 0; ; i++) {
    if (container === null || typeof container !== 'object') return copy
    const keys = Object.keys(container)
    const record = container as Record<string, unknown>
    const step = path[i] ?? 0
    const key =
      keys.length === 0 || step % (keys.length + 1) === keys.length ? 'extra' : keys[step % keys.length]
    const child = record[key]
    if (i === path.length - 1 || child === null || typeof child !== 'object') {
      if (replacement === DELETE) delete record[key]
      else record[key] = replacement
      return copy
    }
    container = child
  }
}

/** Mutations of a valid message: one field replaced by arbitrary JSON, deleted, or added. */
function mutations(valid: unknown) {
  return fc
    .tuple(
      fc.array(fc.nat({ max: 20 }), { minLength: 1, maxLength: 5 }),
      fc.oneof(fc.constant<unknown>(DELETE), fc.jsonValue({ maxDepth: 2 })),
    )
    .map(([path, replacement]) => mutate(valid, path, replacement))
}

/**
 * Decoding either refuses with InvalidMessageError, or returns exactly the input, which the schema
 * accepts and which has a safe shape: nothing is silently defaulted, coerced or stripped.
 */
function checkDecode<T>(decode: (bytes: Uint8Array) => T, schema: z.ZodType<T>, bytes: Uint8Array): void {
  let decoded: T
  try {
    decoded = decode(bytes)
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidMessageError)
    return
  }
  expect(schema.safeParse(decoded).success).toBe(true)
  expect(checkJsonShape(decoded)).toBeUndefined()
  expect(canonicalJson(decoded)).toBe(canonicalJson(JSON.parse(new TextDecoder().decode(bytes))))
}

const task = makeTask()
/** A notice of several results (a batch), so mutations reach into its entries. */
const notice = makeNotice([
  makeNoticeEntry(0),
  makeNoticeEntry(1, { status: 'failed', epoch: 0 }),
  makeNoticeEntry(2, { epoch: 41 }),
])
/** A batched completion, one entry with a record, one without. */
const complete = makeComplete([
  makeCompletion(0, { record: 'eyJhIjoxfQ==' }),
  makeCompletion(1, { status: 'failed', epoch: 5 }),
])
const frame =
  <T>(schema: z.ZodType<T>) =>
  (bytes: Uint8Array) =>
    decodeMessage(schema, bytes, MAX_FRAME_BYTES, 'frame')

const decoders: Array<[string, (bytes: Uint8Array) => unknown, z.ZodType<unknown>, unknown]> = [
  ['custody hold', decodeCustodyFrame, holdRequestSchema, holdOf([task])],
  ['beacon', decodeBeacon, beaconSchema, makeBeacon()],
  ['result notice', decodeResultNotice, resultNoticeSchema, notice],
  ['steal frame', frame(stealFrameSchema), stealFrameSchema, makeStealRequest()],
  ['steal frame (complete)', frame(stealFrameSchema), stealFrameSchema, complete],
  [
    'steal reply (completed)',
    frame(stealReplySchema),
    stealReplySchema,
    makeCompleted([
      { taskId: task.id, outcome: 'accepted' },
      { taskId: makeTask(1).id, outcome: 'unknown' },
    ]),
  ],
  [
    'steal reply',
    frame(stealReplySchema),
    stealReplySchema,
    {
      type: 'grant',
      requestId: 'r',
      tasks: [task],
      leases: [{ taskId: task.id, epoch: 1, expiresAt: 9, proof: LEASE_PROOF }],
      ttlMs: 5,
    },
  ],
  [
    'submit frame',
    frame(submitFrameSchema),
    submitFrameSchema,
    { type: 'watch', requestId: 'r', taskIds: [task.id] },
  ],
  [
    'submit reply',
    frame(submitReplySchema),
    submitReplySchema,
    { type: 'submitted', requestId: 'r', ids: [task.id] },
  ],
]

describe('decoders under arbitrary input', () => {
  it.each(decoders)('%s: junk bytes are refused with InvalidMessageError only', (_name, decode, schema) => {
    fc.assert(
      fc.property(junkBytes, (bytes) => checkDecode(decode, schema, bytes)),
      { numRuns: RUNS },
    )
  })

  it.each(decoders)(
    '%s: mutated valid messages decode exactly or are refused',
    (_name, decode, schema, valid) => {
      expect(decode(encodeMessage(valid))).toEqual(valid)
      fc.assert(
        fc.property(mutations(valid), (message) => checkDecode(decode, schema, encodeMessage(message))),
        { numRuns: RUNS },
      )
    },
  )
})

describe('gossip validators under arbitrary input', () => {
  const validators = [['result notice', validateResultNotice]] as const

  it.each(validators)('%s: never throw, and reject junk', async (_name, validate) => {
    await fc.assert(
      fc.asyncProperty(junkBytes, fc.boolean(), async (data, signed) => {
        const msg: Message = signed ? signedMessage('t', data) : { type: 'unsigned', topic: 't', data }
        expect(await validate(relay, msg)).toBe(TopicValidatorResult.Reject)
      }),
      { numRuns: RUNS },
    )
  })

  it.each([['result notice', validateResultNotice, notice]] as const)(
    '%s: mutated messages give a verdict, never a throw',
    async (_name, validate, valid) => {
      const ok = signedMessage('t', encodeMessage(valid))
      expect(await validate(relay, ok)).toBe(TopicValidatorResult.Accept)
      await fc.assert(
        fc.asyncProperty(mutations(valid), async (message) => {
          const msg = signedMessage('t', encodeMessage(message))
          const verdict = await validate(relay, msg)
          expect([TopicValidatorResult.Accept, TopicValidatorResult.Reject]).toContain(verdict)
        }),
        { numRuns: RUNS },
      )
    },
  )
})

/** A task id as `taskId` makes them: CIDv1, raw, sha2-256 of arbitrary bytes, base32. */
const anyTaskId = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((digest) => CID.createV1(raw.code, createDigest(sha256.code, digest)).toString())
const anyStatus = fc.constantFrom('succeeded' as const, 'failed' as const)
const anyEpoch = fc.oneof(fc.nat({ max: 100 }), fc.constant(Number.MAX_SAFE_INTEGER), fc.maxSafeNat())
const anyNoticeEntry = fc.record({ taskId: anyTaskId, status: anyStatus, epoch: anyEpoch })
/** A padded base64 string of 1 to 300 bytes (the shape, not a real record). */
const anyRecordBase64 = fc
  .uint8Array({ minLength: 1, maxLength: 300 })
  .map((bytes) => Buffer.from(bytes).toString('base64'))
const anyCompletion = fc.record(
  { taskId: anyTaskId, epoch: anyEpoch, status: anyStatus, record: anyRecordBase64 },
  { requiredKeys: ['taskId', 'epoch', 'status'] },
)
const anyOutcome = fc.record({
  taskId: anyTaskId,
  outcome: fc.constantFrom('accepted' as const, 'stale' as const, 'unknown' as const),
})
/** A batch length outside 1..max: empty, or a little over. */
const badLength = (max: number) => fc.oneof(fc.constant(0), fc.integer({ min: max + 1, max: max + 20 }))
/** Arrays of `item` with a length in min..max, the bounds themselves often. */
const batchOf = <T>(item: fc.Arbitrary<T>, min: number, max: number) =>
  fc
    .oneof(fc.integer({ min, max }), fc.constantFrom(min, max))
    .chain((n) => fc.array(item, { minLength: n, maxLength: n }))

describe('batched messages under arbitrary batches', () => {
  it(`any notice of 1 to ${MAX_NOTICES_PER_MESSAGE} results is accepted, decodes exactly and fits the byte limit`, () => {
    fc.assert(
      fc.property(batchOf(anyNoticeEntry, 1, MAX_NOTICES_PER_MESSAGE), (results) => {
        const bytes = encodeMessage(makeNotice(results))
        expect(bytes.byteLength).toBeLessThanOrEqual(MAX_NOTICE_BYTES)
        expect(validateResultNotice(relay, signedMessage('t', bytes, executorKey))).toBe(
          TopicValidatorResult.Accept,
        )
        expect(decodeResultNotice(bytes)).toEqual(makeNotice(results))
      }),
      { numRuns: 50 },
    )
  })

  it('a notice of no results or too many is always rejected', () => {
    fc.assert(
      fc.property(badLength(MAX_NOTICES_PER_MESSAGE), anyNoticeEntry, (length, entry) => {
        const results = Array.from({ length }, () => entry)
        const msg = signedMessage('t', encodeMessage(makeNotice(results)), executorKey)
        expect(validateResultNotice(relay, msg)).toBe(TopicValidatorResult.Reject)
      }),
      { numRuns: 40 },
    )
  })

  it('a notice is accepted exactly when every one of its results is', () => {
    const alone = (entry: unknown) => resultNoticeSchema.safeParse(makeNotice([entry as never])).success
    fc.assert(
      fc.property(
        fc.array(fc.oneof(anyNoticeEntry, mutations(makeNoticeEntry())), { minLength: 1, maxLength: 8 }),
        (results) => {
          const msg = signedMessage('t', encodeMessage({ v: 1, results }), executorKey)
          const verdict = validateResultNotice(relay, msg)
          expect(verdict).toBe(
            results.every(alone) ? TopicValidatorResult.Accept : TopicValidatorResult.Reject,
          )
        },
      ),
      { numRuns: RUNS },
    )
  })

  it(`any complete of 1 to ${MAX_LEASES_PER_MESSAGE} completions, records or not, decodes exactly`, () => {
    fc.assert(
      fc.property(batchOf(anyCompletion, 1, MAX_LEASES_PER_MESSAGE), (completions) => {
        const request = makeComplete(completions)
        expect(frame(stealFrameSchema)(encodeMessage(request))).toEqual(request)
      }),
      { numRuns: 30 },
    )
  })

  it('a complete of no completions or too many is always refused', () => {
    fc.assert(
      fc.property(badLength(MAX_LEASES_PER_MESSAGE), anyCompletion, (length, completion) => {
        const request = makeComplete(Array.from({ length }, () => completion))
        expect(() => frame(stealFrameSchema)(encodeMessage(request))).toThrow(InvalidMessageError)
      }),
      { numRuns: 40 },
    )
  })

  it(`any completed of up to ${MAX_LEASES_PER_MESSAGE} outcomes decodes exactly; more are refused`, () => {
    fc.assert(
      fc.property(batchOf(anyOutcome, 0, MAX_LEASES_PER_MESSAGE + 20), (outcomes) => {
        const reply = makeCompleted(outcomes)
        const decode = () => frame(stealReplySchema)(encodeMessage(reply))
        if (outcomes.length <= MAX_LEASES_PER_MESSAGE) expect(decode()).toEqual(reply)
        else expect(decode).toThrow('frame: outcomes: Too big')
      }),
      { numRuns: 30 },
    )
  })
})

describe('result records under arbitrary input', () => {
  const key = resultKey(makeRecord().taskId)

  it('junk values are refused with InvalidRecordError only, and always lose in the selector', async () => {
    const good = await signResultRecord(makeRecord(), executorKey)
    await fc.assert(
      fc.asyncProperty(fc.array(junkBytes, { maxLength: 4 }), fc.nat(), async (junk, at) => {
        for (const value of junk) {
          await expect(openResultRecord(value, key)).rejects.toBeInstanceOf(InvalidRecordError)
        }
        const values = [...junk]
        const index = at % (values.length + 1)
        values.splice(index, 0, good)
        expect(resultSelector(key, values)).toBe(index)
      }),
      { numRuns: RUNS },
    )
  })

  it('any change to a signed record is refused unless it changes nothing', async () => {
    const value = await signResultRecord(makeRecord(), executorKey)
    const signed = JSON.parse(new TextDecoder().decode(value))
    await fc.assert(
      fc.asyncProperty(mutations(signed), async (changed) => {
        const bytes = encodeMessage(changed)
        const opened = await openResultRecord(bytes, key).then(
          (record) => record,
          (err: unknown) => {
            expect(err).toBeInstanceOf(InvalidRecordError)
            return undefined
          },
        )
        if (opened !== undefined) expect(canonicalJson(opened)).toBe(canonicalJson(signed.record))
      }),
      { numRuns: 100 },
    )
  })

  it('the selector picks the same value for any order of the same set', async () => {
    const pool = await Promise.all(
      [
        makeRecord({ epoch: 1 }),
        makeRecord({ epoch: 4, finishedAt: 90 }),
        makeRecord({ epoch: 4, finishedAt: 45 }),
        makeRecord({ epoch: 4, status: 'failed', output: undefined, error: 'no', finishedAt: 41 }),
        makeRecord({ epoch: 4, finishedAt: 45, output: 'different' }),
      ].map((r) => signResultRecord(r, executorKey)),
    )
    const values = fc.array(fc.oneof(fc.constantFrom(...pool), junkBytes), { minLength: 1, maxLength: 6 })
    fc.assert(
      fc.property(
        values.chain((v) => fc.tuple(fc.constant(v), fc.shuffledSubarray(v, { minLength: v.length }))),
        ([a, b]) => {
          const pickA = a[resultSelector(key, a)]
          const pickB = b[resultSelector(key, b)]
          expect(Buffer.compare(Buffer.from(pickA), Buffer.from(pickB))).toBe(0)
        },
      ),
      { numRuns: RUNS },
    )
  })
})

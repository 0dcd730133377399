import { TopicValidatorResult } from '@libp2p/gossipsub'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { encodeMessage } from '../../src/protocol/codec.ts'
import {
  MAX_LEASES_PER_MESSAGE,
  MAX_NOTICE_BYTES,
  MAX_NOTICES_PER_MESSAGE,
} from '../../src/protocol/constants.ts'
import { InvalidMessageError } from '../../src/protocol/errors.ts'
import { decodeResultNotice, validateResultNotice } from '../../src/protocol/messages/gossip-validators.ts'
import {
  resultNoticeSchema,
  stealFrameSchema,
  stealReplySchema,
} from '../../src/protocol/messages/messages.ts'
import {
  executorKey,
  makeComplete,
  makeCompleted,
  makeNotice,
  makeNoticeEntry,
  relay,
  signedMessage,
} from './fixtures.ts'
import { frame, mutations, RUNS } from './property-helpers.ts'

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

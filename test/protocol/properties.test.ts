import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { checkJsonShape, encodeMessage } from '../../src/protocol/codec.ts'
import { InvalidMessageError } from '../../src/protocol/errors.ts'
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
import { canonicalJson } from '../../src/task/task-id.ts'
import {
  holdOf,
  LEASE_PROOF,
  makeBeacon,
  makeComplete,
  makeCompleted,
  makeCompletion,
  makeStealRequest,
  makeTask,
  relay,
  signedMessage,
} from './fixtures.ts'
import { frame, junkBytes, mutations, notice, RUNS } from './property-helpers.ts'

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
/** A batched completion, one entry with a record, one without. */
const complete = makeComplete([
  makeCompletion(0, { record: 'eyJhIjoxfQ==' }),
  makeCompletion(1, { status: 'failed', epoch: 5 }),
])
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

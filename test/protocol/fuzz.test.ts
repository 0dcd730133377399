import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { generateSwarmKey, InvalidSwarmKeyError, parseSwarmKey } from '../../src/node/wire/swarm-key.ts'
import { checkJsonShape, decodeMessage, encodeMessage } from '../../src/protocol/codec.ts'
import { MAX_FRAME_BYTES } from '../../src/protocol/constants.ts'
import { InvalidMessageError, InvalidRecordError } from '../../src/protocol/errors.ts'
import { decodeBeacon } from '../../src/protocol/messages/beacon-messages.ts'
import { decodeCustodyFrame } from '../../src/protocol/messages/custody-messages.ts'
import { decodeResultNotice } from '../../src/protocol/messages/gossip-validators.ts'
import {
  beaconSchema,
  holdRequestSchema,
  resultNoticeSchema,
  stealFrameSchema,
  stealReplySchema,
  submitFrameSchema,
  submitReplySchema,
} from '../../src/protocol/messages/messages.ts'
import { verifyGrantProof } from '../../src/protocol/records/grant-proof.ts'
import {
  openResultRecord,
  recordFromBase64,
  recordToBase64,
  resultKey,
  signResultRecord,
} from '../../src/protocol/records/result-record.ts'
import { canonicalJson } from '../../src/task/task-id.ts'
import {
  anyBase64,
  anyEpoch,
  anyPeer,
  anyProof,
  anyTaskId,
  gossipMessages,
  stealFrames,
  stealReplies,
} from './arbitraries.ts'
import { EXECUTOR, executorKey, LEASE_PROOF, makeRecord, makeTask, OWNER } from './fixtures.ts'
import { submitFrames, submitReplies } from './submit-arbitraries.ts'

/**
 * Fuzzing of every decoder: for each message type of both stream protocols and the three gossip
 * topics, arbitrary valid messages round-trip exactly; the same messages with one field replaced,
 * deleted or added, and arbitrary bytes, either decode to exactly what was sent (the change was
 * valid) or are refused with `InvalidMessageError` — never another error, never a crash.
 */

const RUNS = 60

const frame =
  <T>(schema: z.ZodType<T>, what: string) =>
  (bytes: Uint8Array) =>
    decodeMessage(schema, bytes, MAX_FRAME_BYTES, what)

/** Arbitrary bytes: random, random text, random JSON. */
const junk = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 80 }).map((s) => new TextEncoder().encode(s)),
  fc.jsonValue({ maxDepth: 3 }).map((v) => new TextEncoder().encode(JSON.stringify(v))),
)

/** A copy of `value` with the field at a random path replaced by arbitrary JSON, deleted, or added. */
function mutated<T>(valid: fc.Arbitrary<T>) {
  return fc
    .tuple(
      valid,
      fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
      fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }),
    )
    .map(([value, path, replacement]) => {
      const copy = structuredClone(value) as unknown
      let at = copy as Record<string, unknown>
      for (let i = 0; ; i++) {
        const keys = Object.keys(at)
        const key =
          keys.length === 0 || path[i] % (keys.length + 1) === keys.length
            ? 'extra'
            : keys[path[i] % keys.length]
        const child = at[key]
        if (i === path.length - 1 || child === null || typeof child !== 'object') {
          if (replacement === undefined) delete at[key]
          else at[key] = replacement
          return copy
        }
        at = child as Record<string, unknown>
      }
    })
}

/** Decodes `bytes`: either exactly the sent JSON (valid per the schema, safe in shape), or InvalidMessageError. */
function decodesExactlyOrRefuses(
  decode: (b: Uint8Array) => unknown,
  schema: z.ZodType<unknown>,
  bytes: Uint8Array,
) {
  let decoded: unknown
  try {
    decoded = decode(bytes)
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidMessageError)
    expect((err as Error).message.length).toBeGreaterThan(0)
    return
  }
  expect(schema.safeParse(decoded).success).toBe(true)
  expect(checkJsonShape(decoded)).toBeUndefined()
  expect(canonicalJson(decoded)).toBe(canonicalJson(JSON.parse(new TextDecoder().decode(bytes))))
}

type Case = [string, fc.Arbitrary<unknown>, (bytes: Uint8Array) => unknown, z.ZodType<unknown>]

const cases: Case[] = [
  ...Object.entries(stealFrames).map(
    ([type, arb]): Case => [
      `steal frame "${type}"`,
      arb,
      frame(stealFrameSchema, 'steal frame'),
      stealFrameSchema,
    ],
  ),
  ...Object.entries(stealReplies).map(
    ([type, arb]): Case => [
      `steal reply "${type}"`,
      arb,
      frame(stealReplySchema, 'steal reply'),
      stealReplySchema,
    ],
  ),
  ...Object.entries(submitFrames).map(
    ([type, arb]): Case => [
      `submit frame "${type}"`,
      arb,
      frame(submitFrameSchema, 'submit frame'),
      submitFrameSchema,
    ],
  ),
  ...Object.entries(submitReplies).map(
    ([type, arb]): Case => [
      `submit reply "${type}"`,
      arb,
      frame(submitReplySchema, 'submit reply'),
      submitReplySchema,
    ],
  ),
  ['custody hold', gossipMessages.announcement, decodeCustodyFrame, holdRequestSchema],
  ['beacon', gossipMessages.beacon, decodeBeacon, beaconSchema],
  ['result notice', gossipMessages.notice, decodeResultNotice, resultNoticeSchema],
]

describe('fuzzing every decoder', () => {
  it.each(cases)('%s: arbitrary valid messages round-trip exactly', (_name, arb, decode) => {
    fc.assert(
      fc.property(arb, (message) => {
        const bytes = encodeMessage(message)
        expect(canonicalJson(decode(bytes))).toBe(canonicalJson(JSON.parse(JSON.stringify(message))))
      }),
      { numRuns: RUNS },
    )
  })

  it.each(cases)(
    '%s: a changed field decodes exactly or is refused with InvalidMessageError',
    (_name, arb, decode, schema) => {
      fc.assert(
        fc.property(mutated(arb), (message) =>
          decodesExactlyOrRefuses(decode, schema, encodeMessage(message)),
        ),
        { numRuns: RUNS },
      )
    },
  )

  it.each(cases)(
    '%s: arbitrary bytes are refused with InvalidMessageError only',
    (_name, _arb, decode, schema) => {
      fc.assert(
        fc.property(junk, (bytes) => decodesExactlyOrRefuses(decode, schema, bytes)),
        { numRuns: RUNS },
      )
    },
  )
})

describe('fuzzing record and key decoders', () => {
  it('record base64: valid values round-trip; other text is canonical base64 or refused with InvalidRecordError only', () => {
    fc.assert(
      fc.property(anyBase64, (b64) => {
        const bytes = recordFromBase64(b64)
        expect(recordToBase64(bytes)).toBe(b64)
      }),
      { numRuns: RUNS },
    )
    const nearBase64 = fc.stringMatching(/^[A-Za-z0-9+/]{1,12}={0,3}$/)
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), nearBase64), (text) => {
        let bytes: Uint8Array
        try {
          bytes = recordFromBase64(text)
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidRecordError)
          return
        }
        // accepted: the one (canonical) text of its bytes, spare bits of the last group included
        expect(recordToBase64(bytes)).toBe(text)
      }),
      { numRuns: RUNS * 3 },
    )
  })

  it('a granted record with any other grant, owner or epoch is refused with InvalidRecordError only', async () => {
    const key = resultKey(makeTask().id)
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          { grant: fc.oneof(anyProof, fc.string({ maxLength: 100 })), owner: anyPeer, epoch: anyEpoch },
          { requiredKeys: [] },
        ),
        async (change) => {
          const record = { ...makeRecord(), ...change }
          const unchanged = canonicalJson(record) === canonicalJson(makeRecord())
          const outcome = await signResultRecord(record, executorKey)
            .then((value) => openResultRecord(value, key))
            .then(
              () => 'valid',
              (err: unknown) => {
                expect(err).toBeInstanceOf(InvalidRecordError)
                return 'refused'
              },
            )
          // only the owner's proof of this very lease passes (an owner's own record carries none)
          expect(outcome).toBe(unchanged ? 'valid' : 'refused')
        },
      ),
      { numRuns: RUNS },
    )
  })

  it('verifyGrantProof never throws: arbitrary strings are false, the real proof true', () => {
    expect(verifyGrantProof(OWNER, makeTask().id, EXECUTOR, 1, LEASE_PROOF)).toBe(true)
    fc.assert(
      fc.property(
        fc.string({ maxLength: 80 }),
        fc.oneof(anyTaskId, fc.string({ maxLength: 60 })),
        fc.string({ maxLength: 80 }),
        fc.oneof(anyEpoch, fc.double()),
        fc.oneof(anyProof, fc.string({ maxLength: 100 })),
        (owner, taskId, holder, epoch, proof) => {
          expect(verifyGrantProof(owner, taskId, holder, epoch, proof)).toBe(false)
        },
      ),
      { numRuns: RUNS * 2 },
    )
  })

  it('swarm keys: generated ones parse; arbitrary bytes are refused with InvalidSwarmKeyError only', () => {
    expect(parseSwarmKey(generateSwarmKey())).toBeDefined()
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 120 }),
          fc
            .string({ maxLength: 100 })
            .map((s) => new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${s}`)),
        ),
        (bytes) => {
          try {
            parseSwarmKey(bytes)
            expect(new TextDecoder().decode(bytes)).toMatch(/\n[0-9a-fA-F]{64}\r?\n?$/)
          } catch (err) {
            expect(err).toBeInstanceOf(InvalidSwarmKeyError)
          }
        },
      ),
      { numRuns: RUNS * 2 },
    )
  })
})

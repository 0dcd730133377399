import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { fastCheckOf } from '../../../src/protocol/messages/fast-path.ts'
import { replicateReplySchema, storeReplySchema } from '../../../src/protocol/messages/replicate-messages.ts'
import {
  isWellFormedStealFrame,
  isWellFormedStealReply,
  isWellFormedStoreReply,
} from '../../../src/protocol/messages/steal-fast-check.ts'
import {
  completeReplySchema,
  completeRequestSchema,
  stealFrameSchema,
  stealFrameSchema10,
  stealGrantSchema,
  stealReplySchema,
  stealRequestSchema,
} from '../../../src/protocol/messages/steal-messages.ts'
import { GrantSigner } from '../../../src/protocol/records/grant-proof.ts'
import {
  EXECUTOR,
  idOf,
  LEASE_PROOF,
  makeComplete,
  makeCompleted,
  makeCompletion,
  makeStealRequest,
  makeTask,
  ownerKey,
} from '../fixtures.ts'
import { expectExactOrStricter } from '../property-helpers.ts'

const record = Buffer.from(JSON.stringify({ record: 'x', signature: 'y' })).toString('base64')
const [, batchProof] = new GrantSigner(ownerKey).signAll(
  EXECUTOR,
  [0, 1].map((n) => ({ taskId: makeTask(n).id, epoch: 3 })),
)

/** A grant of two tasks: a lone proof and a batched one, one lease with earlier attempts. */
const grant = {
  type: 'grant' as const,
  requestId: 'r1',
  tasks: [makeTask(0), makeTask(1)],
  leases: [
    { taskId: makeTask(0).id, epoch: 1, expiresAt: 1_700_000_000_000, proof: LEASE_PROOF },
    {
      taskId: makeTask(1).id,
      epoch: 3,
      expiresAt: 1_700_000_000_000,
      proof: batchProof,
      attempts: [{ executor: EXECUTOR, epoch: 2, startedAt: 10, finishedAt: 20, error: 'x', cut: 'lost' }],
    },
  ],
  ttlMs: 30_000,
}
const complete = makeComplete([makeCompletion(0), makeCompletion(1, { status: 'failed', epoch: 0, record })])
const completed = makeCompleted([
  { taskId: idOf(0), outcome: 'accepted' },
  { taskId: idOf(1), outcome: 'stale' },
  { taskId: idOf(2), outcome: 'unknown' },
])
const stored = { type: 'stored', requestId: 'r1', outcomes: ['stored', 'superseded', 'invalid'] }

/** Each frame a check takes, with the member schema that defines it. */
const CASES: Array<{ name: string; valid: unknown; check: (v: unknown) => boolean; schema: z.ZodType }> = [
  {
    name: 'steal request',
    valid: makeStealRequest(),
    check: isWellFormedStealFrame,
    schema: stealRequestSchema,
  },
  { name: 'complete request', valid: complete, check: isWellFormedStealFrame, schema: completeRequestSchema },
  { name: 'grant', valid: grant, check: isWellFormedStealReply, schema: stealGrantSchema },
  { name: 'completed reply', valid: completed, check: isWellFormedStealReply, schema: completeReplySchema },
  { name: 'stored reply', valid: stored, check: isWellFormedStoreReply, schema: storeReplySchema },
]

describe('the fast checks of steal and replicate frames', () => {
  it('take the fast path for frames as nodes make them', () => {
    for (const { name, valid, check, schema } of CASES) {
      expect(schema.safeParse(valid).success, name).toBe(true)
      expect(check(valid), name).toBe(true)
    }
  })

  it('are the first check of the schemas nodes decode these frames with', () => {
    expect(fastCheckOf(stealFrameSchema)).toBe(isWellFormedStealFrame)
    expect(fastCheckOf(stealFrameSchema10)).toBe(isWellFormedStealFrame)
    expect(fastCheckOf(stealReplySchema)).toBe(isWellFormedStealReply)
    expect(fastCheckOf(replicateReplySchema)).toBe(isWellFormedStoreReply)
  })

  for (const { name, valid, check, schema } of CASES) {
    it(`${name}: accept nothing its schema refuses, and pass what they accept as it is`, () => {
      expectExactOrStricter(valid, check, schema)
    })
  }

  it('leave other types, and values of the wrong type, to the schema', () => {
    const renew = { type: 'renew', requestId: 'r1', leases: [{ taskId: idOf(0), epoch: 1 }] }
    expect(isWellFormedStealFrame(renew)).toBe(false)
    expect(stealFrameSchema.safeParse(renew).success).toBe(true)
    const error = { type: 'error', requestId: 'r1', code: 'busy', message: 'later' }
    expect(isWellFormedStealReply(error)).toBe(false)
    expect(isWellFormedStoreReply(error)).toBe(false)
    expect(replicateReplySchema.safeParse(error).success).toBe(true)
    for (const v of [null, [], 'complete', 1, { ...complete, extra: 1 }, { ...grant, ttlMs: -1 }])
      expect(isWellFormedStealFrame(v) || isWellFormedStealReply(v)).toBe(false)
  })

  it('refuse what the schemas refuse at their bounds', () => {
    const tooMany = makeComplete([])
    expect(isWellFormedStealFrame(tooMany)).toBe(false)
    expect(completeRequestSchema.safeParse(tooMany).success).toBe(false)
    for (const speed of [Number.NaN, -1, 1_000_001]) {
      const request = { ...makeStealRequest(), speed }
      expect(isWellFormedStealFrame(request)).toBe(false)
      expect(stealRequestSchema.safeParse(request).success).toBe(false)
    }
    const badProof = { ...grant, leases: [{ ...grant.leases[0], proof: `${LEASE_PROOF}x` }] }
    expect(isWellFormedStealReply(badProof)).toBe(false)
    expect(stealGrantSchema.safeParse(badProof).success).toBe(false)
  })
})

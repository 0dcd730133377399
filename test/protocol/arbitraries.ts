import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import {
  MAX_DURATION_MS,
  MAX_MEMORY_MB,
  MAX_NODE_SLOTS,
  MAX_QUEUED_TASKS,
  MAX_SPEED,
  MAX_TIMESTAMP_MS,
} from '../../src/protocol/constants.ts'
import { checkJsonShape } from '../../src/task/json-shape.ts'
import { MAX_ATTEMPTS, MAX_PRIORITY, MAX_TIMEOUT_MS, MIN_PRIORITY } from '../../src/task/limits.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { EXECUTOR, OWNER, STRANGER } from './fixtures.ts'

/**
 * fast-check arbitraries of valid wire values: every value they produce must pass its schema
 * (the fuzz tests check that it does, so a generator that drifts from a schema fails loudly).
 * Arrays are kept short: the batch sizes at their limits are covered in batch-properties.test.ts.
 * The submit protocol's frames and replies are in submit-arbitraries.ts.
 */

/** JSON numbers survive a round trip only when finite and not -0. */
export const finite = (min: number, max: number) =>
  fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n))

/**
 * JSON as the wire accepts it: no -0 (which JSON cannot tell from 0) and no `__proto__` key
 * (refused everywhere by design; mutations and junk try those).
 */
export const anyJson = fc
  .jsonValue({ maxDepth: 3 })
  .map((v) => JSON.parse(JSON.stringify(v)) as unknown)
  .filter((v) => checkJsonShape(v) === undefined)

export const anyTaskId = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((digest) => CID.createV1(raw.code, createDigest(sha256.code, digest)).toString())
export const anyRequestId = fc.string({ minLength: 1, maxLength: 128 })
export const anyEpoch = fc.oneof(fc.nat({ max: 100 }), fc.constant(Number.MAX_SAFE_INTEGER), fc.maxSafeNat())
export const anyStatus = fc.constantFrom('succeeded' as const, 'failed' as const)
export const anyTimestamp = fc.integer({ min: 0, max: MAX_TIMESTAMP_MS })
export const anyDuration = finite(0, MAX_DURATION_MS)
export const anyPeer = fc.constantFrom(OWNER, EXECUTOR, STRANGER)
export const anyName = fc.stringMatching(/^[a-z0-9][a-z0-9._:/-]{0,63}$/)
const names = (max: number) => fc.array(anyName, { maxLength: max })
/** Padded base64 of 1 to 300 bytes (the shape of a record, not a real one). */
export const anyBase64 = fc
  .uint8Array({ minLength: 1, maxLength: 300 })
  .map((b) => Buffer.from(b).toString('base64'))
/** A grant proof's shape: the padded base64 of 64 bytes. */
export const anyProof = fc
  .uint8Array({ minLength: 64, maxLength: 64 })
  .map((b) => Buffer.from(b).toString('base64'))
export const short = (max = 200) => fc.string({ maxLength: max })
/** An object key the wire accepts (any but `__proto__`). */
export const anyKey = (max = 40) => fc.string({ maxLength: max }).filter((k) => k !== '__proto__')

/** What a submitter may write: `type` and any subset of the other fields, each within bounds. */
export const anySpecInput = fc.record(
  {
    type: anyName,
    input: anyJson,
    priority: fc.integer({ min: MIN_PRIORITY, max: MAX_PRIORITY }),
    resources: fc.record(
      {
        slots: fc.integer({ min: 1, max: 1024 }),
        memoryMb: fc.integer({ min: 0, max: 16 * 1024 * 1024 }),
        labels: names(4),
      },
      { requiredKeys: [] },
    ),
    timeoutMs: fc.integer({ min: 1, max: MAX_TIMEOUT_MS }),
    maxAttempts: fc.integer({ min: 1, max: MAX_ATTEMPTS }),
    dependsOn: fc.array(fc.string({ minLength: 1, maxLength: 128 }), { maxLength: 4 }),
  },
  { requiredKeys: ['type'] },
)

/** An accepted task as announcements and grants carry it (its spec filled). */
export const anyTask = fc.record({
  id: anyTaskId,
  spec: anySpecInput.map((s) => parseTaskSpec(s)),
  submitter: fc.string({ minLength: 1, maxLength: 256 }),
  nonce: fc.string({ minLength: 1, maxLength: 128 }),
  owner: anyPeer,
  submittedAt: anyTimestamp,
})

const leaseRef = fc.record({ taskId: anyTaskId, epoch: anyEpoch })
export const taskIds = (min: number, max: number) => fc.array(anyTaskId, { minLength: min, maxLength: max })
export const errorReply = fc.record({
  type: fc.constant('error' as const),
  requestId: anyRequestId,
  code: fc.string({ minLength: 1, maxLength: 64 }),
  message: short(),
})

/** Every request of the steal protocol, by type. */
export const stealFrames = {
  steal: fc.record({
    type: fc.constant('steal' as const),
    requestId: anyRequestId,
    max: fc.integer({ min: 1, max: 1000 }),
    offer: fc.record({
      types: names(4),
      labels: names(4),
      slots: fc.integer({ min: 0, max: MAX_NODE_SLOTS }),
      memoryMb: fc.integer({ min: 0, max: MAX_MEMORY_MB }),
    }),
    queued: fc.integer({ min: 0, max: MAX_QUEUED_TASKS }),
    queuedWorkMs: anyDuration,
    speed: finite(0, MAX_SPEED),
    freeSlots: fc.integer({ min: 0, max: MAX_NODE_SLOTS }),
  }),
  renew: fc.record({
    type: fc.constant('renew' as const),
    requestId: anyRequestId,
    leases: fc.array(leaseRef, { maxLength: 4 }),
  }),
  complete: fc.record({
    type: fc.constant('complete' as const),
    requestId: anyRequestId,
    completions: fc.array(
      fc.record(
        { taskId: anyTaskId, epoch: anyEpoch, status: anyStatus, record: anyBase64 },
        { requiredKeys: ['taskId', 'epoch', 'status'] },
      ),
      { minLength: 1, maxLength: 4 },
    ),
  }),
  release: fc.record({
    type: fc.constant('release' as const),
    requestId: anyRequestId,
    leases: fc.array(leaseRef, { maxLength: 4 }),
  }),
}

/** Every reply of the steal protocol, by type. */
export const stealReplies = {
  grant: fc.record({
    type: fc.constant('grant' as const),
    requestId: anyRequestId,
    tasks: fc.array(anyTask, { maxLength: 2 }),
    leases: fc.array(
      fc.record({ taskId: anyTaskId, epoch: anyEpoch, expiresAt: anyTimestamp, proof: anyProof }),
      {
        maxLength: 3,
      },
    ),
    ttlMs: fc.integer({ min: 0, max: MAX_DURATION_MS }),
  }),
  renewed: fc.record({
    type: fc.constant('renewed' as const),
    requestId: anyRequestId,
    accepted: taskIds(0, 3),
    rejected: taskIds(0, 3),
  }),
  completed: fc.record({
    type: fc.constant('completed' as const),
    requestId: anyRequestId,
    outcomes: fc.array(
      fc.record({
        taskId: anyTaskId,
        outcome: fc.constantFrom('accepted' as const, 'stale' as const, 'unknown' as const),
      }),
      { maxLength: 3 },
    ),
  }),
  released: fc.record({
    type: fc.constant('released' as const),
    requestId: anyRequestId,
    released: taskIds(0, 3),
  }),
  error: errorReply,
}

/** Messages that are not request/reply frames: custody holds, beacons, notices. */
export const gossipMessages = {
  announcement: fc.record({
    type: fc.constant('hold' as const),
    requestId: fc.constant('r'),
    custodians: fc.constant([{ peerId: '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK', addrs: [] }]),
    tasks: fc.array(anyTask, { minLength: 1, maxLength: 2 }),
  }),
  beacon: fc.record({
    v: fc.constant(1 as const),
    seq: fc.maxSafeNat(),
    slots: fc.integer({ min: 0, max: MAX_NODE_SLOTS }),
    running: fc.integer({ min: 0, max: MAX_NODE_SLOTS }),
    queued: fc.integer({ min: 0, max: MAX_QUEUED_TASKS }),
    queuedWorkMs: anyDuration,
    speed: finite(0, MAX_SPEED),
    types: names(4),
    labels: names(4),
    memoryMb: fc.integer({ min: 0, max: MAX_MEMORY_MB }),
    expectedWaitMs: anyDuration,
    sentAt: anyTimestamp,
  }),
  notice: fc.record({
    v: fc.constant(1 as const),
    results: fc.array(fc.record({ taskId: anyTaskId, status: anyStatus, epoch: anyEpoch }), {
      minLength: 1,
      maxLength: 4,
    }),
  }),
}

import { MAX_LABELS } from '../../task/limits.ts'
import { NAME_PATTERN } from '../../task/spec.ts'
import { isTaskId } from '../../task/task-id.ts'
import {
  MAX_DURATION_MS,
  MAX_HANDLER_TYPES,
  MAX_LEASES_PER_MESSAGE,
  MAX_MEMORY_MB,
  MAX_NODE_SLOTS,
  MAX_QUEUED_TASKS,
  MAX_RECORD_ATTEMPTS,
  MAX_RECORD_BASE64_CHARS,
  MAX_RECORDS_PER_STORE,
  MAX_REQUEST_ID_CHARS,
  MAX_SPEED,
  MAX_TASK_ID_CHARS,
  MAX_TASKS_PER_MESSAGE,
} from '../constants.ts'
import { isGrantProofText } from '../records/grant-proof-text.ts'
import {
  absentOr,
  isAttempt,
  isBase64,
  isInt,
  isListOf,
  isObject,
  isString,
  isTimestamp,
  keysWithin,
} from '../records/record-fast-check.ts'
import type { ReplicateReply } from './replicate-messages.ts'
import type { CompleteRequest, StealReply, StealRequest } from './steal-messages.ts'
import { isWellFormedTask } from './task-fast-check.ts'

/**
 * Fast, exact-or-stricter checks of the steal and replicate frames a node decodes for every task
 * it steals, completes or has copied — steal requests and grants, completions and their verdicts,
 * `store` replies: true only for values their schemas accept as they are, so the schema (and its
 * error message) runs only for a value a check refuses (see `withFastPath`). The schemas stay the
 * definition; `test/protocol/messages/steal-fast-check.test.ts` holds each check to its schema.
 */

type Obj = Record<string, unknown>

const isRequestId = (v: unknown) => isString(v, 1, MAX_REQUEST_ID_CHARS)
const isTaskIdText = (v: unknown) => isString(v, 0, MAX_TASK_ID_CHARS) && isTaskId(v)
const isEpoch = (v: unknown) => isInt(v, 0, Number.MAX_SAFE_INTEGER)
const isName = (v: unknown) => typeof v === 'string' && NAME_PATTERN.test(v)
const isDurationMs = (v: unknown) => typeof v === 'number' && v >= 0 && v <= MAX_DURATION_MS
const isRecordBase64 = (v: unknown) => isBase64(v, 4, MAX_RECORD_BASE64_CHARS)
const isStatus = (v: unknown) => v === 'succeeded' || v === 'failed'

/** An object whose keys are exactly `keys` (all required, no other). */
const shaped = (keys: readonly string[]) => {
  const allowed = new Set(keys)
  return (v: unknown): v is Obj => isObject(v) && keysWithin(v, keys, allowed)
}

const isOfferShape = shaped(['types', 'labels', 'slots', 'memoryMb'])
const isStealShape = shaped([
  'type',
  'requestId',
  'max',
  'offer',
  'queued',
  'queuedWorkMs',
  'speed',
  'freeSlots',
])

function isOffer(v: unknown): boolean {
  return (
    isOfferShape(v) &&
    isListOf(v.types, 0, MAX_HANDLER_TYPES, isName) &&
    isListOf(v.labels, 0, MAX_LABELS, isName) &&
    isInt(v.slots, 0, MAX_NODE_SLOTS) &&
    isInt(v.memoryMb, 0, MAX_MEMORY_MB)
  )
}

/** A `steal` request as `stealRequestSchema` has it. */
function isStealRequest(v: Obj): boolean {
  return (
    isStealShape(v) &&
    isRequestId(v.requestId) &&
    isInt(v.max, 1, MAX_TASKS_PER_MESSAGE) &&
    isOffer(v.offer) &&
    isInt(v.queued, 0, MAX_QUEUED_TASKS) &&
    isDurationMs(v.queuedWorkMs) &&
    typeof v.speed === 'number' &&
    v.speed >= 0 &&
    v.speed <= MAX_SPEED &&
    isInt(v.freeSlots, 0, MAX_NODE_SLOTS)
  )
}

const COMPLETION_REQUIRED = ['taskId', 'epoch', 'status']
const COMPLETION_KEYS = new Set([...COMPLETION_REQUIRED, 'record'])
const isCompleteShape = shaped(['type', 'requestId', 'completions'])

function isCompletion(v: unknown): boolean {
  return (
    isObject(v) &&
    keysWithin(v, COMPLETION_REQUIRED, COMPLETION_KEYS) &&
    isTaskIdText(v.taskId) &&
    isEpoch(v.epoch) &&
    isStatus(v.status) &&
    absentOr(v, 'record', isRecordBase64)
  )
}

/** A `complete` request as `completeRequestSchema` has it. */
function isCompleteRequest(v: Obj): boolean {
  return (
    isCompleteShape(v) &&
    isRequestId(v.requestId) &&
    isListOf(v.completions, 1, MAX_LEASES_PER_MESSAGE, isCompletion)
  )
}

const LEASE_REQUIRED = ['taskId', 'epoch', 'expiresAt', 'proof']
const LEASE_KEYS = new Set([...LEASE_REQUIRED, 'attempts'])
const isGrantShape = shaped(['type', 'requestId', 'tasks', 'leases', 'ttlMs'])
const isAttempts = (v: unknown) => isListOf(v, 0, MAX_RECORD_ATTEMPTS, isAttempt)

function isLease(v: unknown): boolean {
  return (
    isObject(v) &&
    keysWithin(v, LEASE_REQUIRED, LEASE_KEYS) &&
    isTaskIdText(v.taskId) &&
    isEpoch(v.epoch) &&
    isTimestamp(v.expiresAt) &&
    isGrantProofText(v.proof) &&
    absentOr(v, 'attempts', isAttempts)
  )
}

/** A `grant` as `stealGrantSchema` has it. */
function isGrant(v: Obj): boolean {
  return (
    isGrantShape(v) &&
    isRequestId(v.requestId) &&
    isListOf(v.tasks, 0, MAX_TASKS_PER_MESSAGE, isWellFormedTask) &&
    isListOf(v.leases, 0, MAX_LEASES_PER_MESSAGE, isLease) &&
    isInt(v.ttlMs, 0, MAX_DURATION_MS)
  )
}

const OUTCOMES = new Set(['accepted', 'stale', 'unknown'])
const isOutcomeShape = shaped(['taskId', 'outcome'])
const isCompletedShape = shaped(['type', 'requestId', 'outcomes'])
const isOutcome = (v: unknown) =>
  isOutcomeShape(v) && isTaskIdText(v.taskId) && typeof v.outcome === 'string' && OUTCOMES.has(v.outcome)

/** A `completed` reply as `completeReplySchema` has it. */
function isCompleteReply(v: Obj): boolean {
  return (
    isCompletedShape(v) &&
    isRequestId(v.requestId) &&
    isListOf(v.outcomes, 0, MAX_LEASES_PER_MESSAGE, isOutcome)
  )
}

/**
 * True only for a steal-protocol request its schema (1.0 or 1.1) accepts as it is: the `steal` and
 * `complete` requests; any other type goes to the schema.
 */
export function isWellFormedStealFrame(v: unknown): v is StealRequest | CompleteRequest {
  if (!isObject(v)) return false
  if (v.type === 'complete') return isCompleteRequest(v)
  return v.type === 'steal' && isStealRequest(v)
}

/**
 * True only for a steal-protocol reply `stealReplySchema` accepts as it is: `grant` and `completed`;
 * any other type goes to the schema.
 */
export function isWellFormedStealReply(v: unknown): v is StealReply {
  if (!isObject(v)) return false
  if (v.type === 'grant') return isGrant(v)
  return v.type === 'completed' && isCompleteReply(v)
}

const STORE_OUTCOMES = new Set(['stored', 'superseded', 'invalid'])
const isStoredShape = shaped(['type', 'requestId', 'outcomes'])
const isStoreOutcome = (v: unknown) => typeof v === 'string' && STORE_OUTCOMES.has(v)

/** True only for a `stored` reply `replicateReplySchema` accepts as it is; an error goes to the schema. */
export function isWellFormedStoreReply(v: unknown): v is ReplicateReply {
  return (
    isStoredShape(v) &&
    v.type === 'stored' &&
    isRequestId(v.requestId) &&
    isListOf(v.outcomes, 0, MAX_RECORDS_PER_STORE, isStoreOutcome)
  )
}

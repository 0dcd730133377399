import { MAX_JSON_DEPTH } from '../../task/json-shape.ts'
import { MAX_OUTPUT_BYTES } from '../../task/limits.ts'
import { jsonByteLength } from '../../task/spec.ts'
import { isTaskId } from '../../task/task-id.ts'
import { isCanonicalBase64 } from '../../util/base64.ts'
import {
  MAX_ERROR_CHARS,
  MAX_PEER_ID_CHARS,
  MAX_RECORD_ATTEMPTS,
  MAX_STACK_CHARS,
  MAX_TASK_ID_CHARS,
  MAX_TIMESTAMP_MS,
} from '../constants.ts'
import { isPlainJson } from '../messages/task-fast-check.ts'
import { isPeerIdString } from '../messages/wire-types.ts'
import { isGrantProofText } from './grant-proof-text.ts'
import { MAX_PROOF_HASHES, MAX_SIGNED_BATCH, type ResultRecord } from './result-record-schema.ts'

/**
 * A fast, exact-or-stricter check of a signed result record value as `signedResultSchema` has it:
 * true only for values that schema accepts as they are, so the schema (and its error message) is
 * needed only when this says no. Every replica, completion and DHT record passes here.
 */

/** Base64 characters of one hash of an inclusion path. */
const HASH_CHARS = 44

type Obj = Record<string, unknown>

/** A plain object (not null, not an array). */
export const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Every own key is one of `allowed`, and each of `required` is there. `for…in` walks the object's
 * enumerable keys without an array of them (an inherited enumerable key, which `JSON.parse` never
 * makes, counts as a key here: stricter, never looser).
 */
export function keysWithin(o: Obj, required: readonly string[], allowed: Set<string>): boolean {
  for (const k in o) if (!allowed.has(k)) return false
  for (let i = 0; i < required.length; i++) if (!Object.hasOwn(o, required[i])) return false
  return true
}

/** Every element passes (holes too: `Array#every` skips them, a schema does not). */
export function allOf(list: unknown[], check: (v: unknown) => boolean): boolean {
  for (let i = 0; i < list.length; i++) if (!check(list[i])) return false
  return true
}

/** An array of `min`..`max` elements, each passing `check`. */
export function isListOf(v: unknown, min: number, max: number, check: (item: unknown) => boolean): boolean {
  return Array.isArray(v) && v.length >= min && v.length <= max && allOf(v, check)
}

/** A safe integer in min..max. */
export const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max
/** A string of min..max UTF-16 code units. */
export const isString = (v: unknown, min: number, max: number): v is string =>
  typeof v === 'string' && v.length >= min && v.length <= max
/** Canonical padded base64 of min..max characters. */
export const isBase64 = (v: unknown, min: number, max: number) =>
  isString(v, min, max) && isCanonicalBase64(v)
/** A timestamp as `timestampSchema` has it. */
export const isTimestamp = (v: unknown) => isInt(v, 0, MAX_TIMESTAMP_MS)
const isPeer = (v: unknown) => isString(v, 1, MAX_PEER_ID_CHARS) && isPeerIdString(v)
/** The key is absent, or its value passes `check`. */
export const absentOr = (o: Obj, key: string, check: (v: unknown) => boolean) =>
  !Object.hasOwn(o, key) || check(o[key])

const ATTEMPT_REQUIRED = ['executor', 'epoch', 'startedAt', 'finishedAt']
const ATTEMPT_KEYS = new Set([...ATTEMPT_REQUIRED, 'error', 'stack', 'cut'])
const CUTS = new Set(['lost', 'interrupted', 'cancelled'])
// the checks of optional fields, made once (an arrow written in place is a new closure per call)
const isErrorText = (e: unknown) => isString(e, 0, MAX_ERROR_CHARS)
const isStackText = (s: unknown) => isString(s, 0, MAX_STACK_CHARS)
const isCut = (c: unknown) => typeof c === 'string' && CUTS.has(c)
const isOutput = (o: unknown) => isPlainJson(o, MAX_JSON_DEPTH) && outputFits(o)

/**
 * Whether the JSON of a plain JSON value is at most `MAX_OUTPUT_BYTES` long, counted only when it
 * could be longer: `null`, a boolean or a number is a few bytes, and a string at most 6 bytes per
 * UTF-16 unit (`\u001f`) besides its quotes. Most outputs are such (a no-op's is `null`).
 */
function outputFits(o: unknown): boolean {
  if (o === null || typeof o === 'boolean' || typeof o === 'number') return true
  if (typeof o === 'string' && o.length * 6 + 2 <= MAX_OUTPUT_BYTES) return true
  return jsonByteLength(o) <= MAX_OUTPUT_BYTES
}
const isPathHash = (h: unknown) => isBase64(h, HASH_CHARS, HASH_CHARS)

/** True only for an attempt `attemptSchema` accepts as it is. */
export function isAttempt(v: unknown): boolean {
  return (
    isObject(v) &&
    keysWithin(v, ATTEMPT_REQUIRED, ATTEMPT_KEYS) &&
    isString(v.executor, 1, MAX_PEER_ID_CHARS) &&
    isInt(v.epoch, 0, Number.MAX_SAFE_INTEGER) &&
    isTimestamp(v.startedAt) &&
    isTimestamp(v.finishedAt) &&
    absentOr(v, 'error', isErrorText) &&
    absentOr(v, 'stack', isStackText) &&
    absentOr(v, 'cut', isCut)
  )
}

const RECORD_REQUIRED = [
  ...['v', 'taskId', 'status', 'executor', 'owner', 'epoch', 'attempts'],
  ...['submittedAt', 'startedAt', 'finishedAt'],
]
const RECORD_KEYS = new Set([...RECORD_REQUIRED, 'output', 'error', 'grant'])

/** True only for a result record `resultRecordSchema` accepts as it is. */
export function isWellFormedRecord(v: unknown): v is ResultRecord {
  return (
    isObject(v) &&
    keysWithin(v, RECORD_REQUIRED, RECORD_KEYS) &&
    v.v === 1 &&
    isString(v.taskId, 0, MAX_TASK_ID_CHARS) &&
    isTaskId(v.taskId) &&
    (v.status === 'succeeded' || v.status === 'failed') &&
    absentOr(v, 'output', isOutput) &&
    absentOr(v, 'error', isErrorText) &&
    isPeer(v.executor) &&
    isPeer(v.owner) &&
    isInt(v.epoch, 0, Number.MAX_SAFE_INTEGER) &&
    absentOr(v, 'grant', isGrantProofText) &&
    Array.isArray(v.attempts) &&
    v.attempts.length <= MAX_RECORD_ATTEMPTS &&
    allOf(v.attempts, isAttempt) &&
    isTimestamp(v.submittedAt) &&
    isTimestamp(v.startedAt) &&
    isTimestamp(v.finishedAt)
  )
}

const PROOF_KEYS = ['index', 'size', 'path']
const PROOF_KEY_SET = new Set(PROOF_KEYS)

function isProof(v: unknown): boolean {
  return (
    isObject(v) &&
    keysWithin(v, PROOF_KEYS, PROOF_KEY_SET) &&
    isInt(v.index, 0, MAX_SIGNED_BATCH - 1) &&
    isInt(v.size, 2, MAX_SIGNED_BATCH) &&
    Array.isArray(v.path) &&
    v.path.length >= 1 &&
    v.path.length <= MAX_PROOF_HASHES &&
    allOf(v.path, isPathHash)
  )
}

const SIGNED_REQUIRED = ['record', 'signature']
const SIGNED_KEYS = new Set([...SIGNED_REQUIRED, 'proof'])

/** True only for a signed record value `signedResultSchema` accepts as it is (see the module comment). */
export function isWellFormedSignedResult(
  v: unknown,
): v is { record: ResultRecord; signature: string; proof?: { index: number; size: number; path: string[] } } {
  return (
    isObject(v) &&
    keysWithin(v, SIGNED_REQUIRED, SIGNED_KEYS) &&
    isWellFormedRecord(v.record) &&
    isBase64(v.signature, 4, 1024) &&
    absentOr(v, 'proof', isProof)
  )
}

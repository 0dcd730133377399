import type { PrivateKey, PublicKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { toString as bytesToString, compare, equals, fromString } from 'uint8arrays'
import { canonicalJson } from '../task/task-id.ts'
import { decodeMessage, describeIssue, encodeMessage } from './codec.ts'
import { MAX_RECORD_BYTES } from './constants.ts'
import { InvalidMessageError, InvalidRecordError } from './errors.ts'
import {
  type ResultRecord,
  resultKey,
  resultRecordSchema,
  signedResultSchema,
} from './result-record-schema.ts'

export * from './result-record-schema.ts'

const WHAT = 'result record'

interface Unverified {
  record: ResultRecord
  /** The bytes the signature covers: UTF-8 of `canonicalJson(record)`. */
  payload: Uint8Array
  signature: Uint8Array
  publicKey: PublicKey
}

function signingPayload(record: ResultRecord): Uint8Array {
  return fromString(canonicalJson(record), 'utf8')
}

/** Every check but the signature's; synchronous, so the selector can use it too. */
function parseSignedValue(value: Uint8Array, expectedKey: Uint8Array | undefined): Unverified {
  let envelope: ReturnType<typeof signedResultSchema.parse>
  try {
    envelope = decodeMessage(signedResultSchema, value, MAX_RECORD_BYTES, WHAT)
  } catch (err) {
    if (err instanceof InvalidMessageError) throw new InvalidRecordError(err.message)
    throw new InvalidRecordError(`${WHAT}: ${(err as Error).message}`)
  }
  const { record } = envelope
  if (expectedKey !== undefined && !equals(expectedKey, resultKey(record.taskId))) {
    throw new InvalidRecordError(`${WHAT}: key does not match task id ${record.taskId}`)
  }
  let publicKey: PublicKey | undefined
  try {
    publicKey = peerIdFromString(record.executor).publicKey
  } catch {
    publicKey = undefined
  }
  if (publicKey?.type !== 'Ed25519') {
    throw new InvalidRecordError(`${WHAT}: executor ${record.executor} has no embedded Ed25519 key`)
  }
  const signature = fromString(envelope.signature, 'base64pad')
  return { record, payload: signingPayload(record), signature, publicKey }
}

/**
 * Signs a result record with the executor's key and returns the value to store in the DHT: UTF-8
 * JSON `{ "record": <record>, "signature": "<base64 Ed25519 signature over canonicalJson(record)>" }`.
 * @throws InvalidRecordError when the record is malformed, the key is not the Ed25519 key of
 *   `record.executor`, or the value would exceed `MAX_RECORD_BYTES` (shorten the output).
 */
export async function signResultRecord(record: ResultRecord, privateKey: PrivateKey): Promise<Uint8Array> {
  const parsed = resultRecordSchema.safeParse(record)
  if (!parsed.success) throw new InvalidRecordError(`${WHAT}: ${describeIssue(parsed.error)}`)
  if (privateKey.type !== 'Ed25519') throw new InvalidRecordError(`${WHAT}: signing key is not Ed25519`)
  const signer = peerIdFromPrivateKey(privateKey).toString()
  if (signer !== record.executor) {
    throw new InvalidRecordError(`${WHAT}: executor ${record.executor} is not the signing peer ${signer}`)
  }
  const signature = await privateKey.sign(signingPayload(parsed.data))
  const value = encodeMessage({ record: parsed.data, signature: bytesToString(signature, 'base64pad') })
  if (value.byteLength > MAX_RECORD_BYTES) {
    throw new InvalidRecordError(`${WHAT}: ${value.byteLength} bytes, over the limit of ${MAX_RECORD_BYTES}`)
  }
  return value
}

/**
 * Checks a stored value and returns its record. Refuses (in this order) oversized values, bad
 * UTF-8/JSON/schema, a key other than `resultKey(record.taskId)` (when `expectedKey` is given), an
 * executor that is not a peer id with an embedded Ed25519 key, and a signature that does not verify.
 * @throws InvalidRecordError with the reason.
 */
export async function openResultRecord(value: Uint8Array, expectedKey?: Uint8Array): Promise<ResultRecord> {
  const { record, payload, signature, publicKey } = parseSignedValue(value, expectedKey)
  let valid: boolean
  try {
    valid = await publicKey.verify(payload, signature)
  } catch {
    valid = false
  }
  if (!valid) throw new InvalidRecordError(`${WHAT}: bad signature by ${record.executor}`)
  return record
}

/**
 * kad-dht validator (`ValidateFn`) for keys under `/taskmesh-result/`: resolves when the value is
 * a valid signed record for that key.
 * @throws InvalidRecordError otherwise.
 */
export async function resultValidator(key: Uint8Array, value: Uint8Array): Promise<void> {
  await openResultRecord(value, key)
}

interface Candidate {
  index: number
  /** `undefined` when the value is invalid. */
  record: ResultRecord | undefined
  signature: Uint8Array
  value: Uint8Array
}

/** Checks a value synchronously for the selector. */
function candidate(key: Uint8Array, value: Uint8Array, index: number): Candidate {
  const invalid = { index, record: undefined, signature: new Uint8Array(0), value }
  try {
    const { record, payload, signature, publicKey } = parseSignedValue(value, key)
    const valid = publicKey.verify(payload, signature)
    if (valid instanceof Promise) {
      // only where verification is asynchronous (not Node): kad-dht validated the value already
      valid.catch(() => {})
    } else if (!valid) {
      return invalid
    }
    return { index, record, signature, value }
  } catch {
    return invalid
  }
}

/** Negative when `a` should be chosen over `b`. A total order: equal only for equal bytes. */
function compareCandidates(a: Candidate, b: Candidate): number {
  if (a.record === undefined || b.record === undefined) {
    if (a.record !== b.record) return a.record === undefined ? 1 : -1
    return compare(a.value, b.value)
  }
  if (a.record.epoch !== b.record.epoch) return b.record.epoch - a.record.epoch
  if (a.record.status !== b.record.status) return a.record.status === 'succeeded' ? -1 : 1
  if (a.record.finishedAt !== b.record.finishedAt) return a.record.finishedAt - b.record.finishedAt
  const bySignature = compare(a.signature, b.signature)
  if (bySignature !== 0) return bySignature
  return compare(a.value, b.value)
}

/**
 * kad-dht selector (`SelectFn`) for result keys: the index of the best value. Invalid or
 * unparseable values lose; then the highest epoch wins; then `succeeded` over `failed`; then the
 * earliest `finishedAt`; then the lexicographically smallest signature bytes; then the smallest
 * value bytes. Deterministic: any permutation of the same values selects the same value (when none
 * is valid, the one with the smallest bytes; `0` for an empty list).
 */
export function resultSelector(key: Uint8Array, values: Uint8Array[]): number {
  let best: Candidate | undefined
  for (let i = 0; i < values.length; i++) {
    const c = candidate(key, values[i], i)
    if (best === undefined || compareCandidates(c, best) < 0) best = c
  }
  return best?.index ?? 0
}

/**
 * Reads a value this node has verified already (e.g. its gossip validator accepted the notice
 * that carried it): every check but the signature's, which is the expensive one.
 * @throws InvalidRecordError when the value is malformed.
 */
export function readVerifiedResultRecord(value: Uint8Array): ResultRecord {
  return parseSignedValue(value, undefined).record
}

/**
 * The selector's order on two records already verified: negative when `a` wins, positive when
 * `b` wins, 0 when only the signature bytes could tell them apart (use {@link resultSelector}).
 */
export function compareResultRecords(a: ResultRecord, b: ResultRecord): number {
  if (a.epoch !== b.epoch) return b.epoch - a.epoch
  if (a.status !== b.status) return a.status === 'succeeded' ? -1 : 1
  return a.finishedAt - b.finishedAt
}

import { toString as bytesToString, fromString } from 'uint8arrays'
import { z } from 'zod'
import type { Json } from '../../task/spec.ts'
import type { AttemptRecord, TaskStatus } from '../../task/task.ts'
import { fromBase64, toBase64 } from '../../util/base64.ts'
import {
  MAX_ERROR_CHARS,
  MAX_PEER_ID_CHARS,
  MAX_RECORD_ATTEMPTS,
  MAX_STACK_CHARS,
  RESULT_KEY_PREFIX,
} from '../constants.ts'
import { InvalidRecordError } from '../errors.ts'
import {
  base64Schema,
  epochSchema,
  outputSchema,
  peerIdSchema,
  recordBase64Schema,
  taskIdSchema,
  taskStatusSchema,
  timestampSchema,
} from '../messages/wire-types.ts'
import { isGrantProofText, MAX_GRANT_PROOF_CHARS } from './grant-proof-text.ts'

/** The result of a task, as stored (signed by its executor) under `resultKey(taskId)` in the DHT. */
export interface ResultRecord {
  v: 1
  taskId: string
  status: TaskStatus
  /** The handler's output, when it succeeded. */
  output?: Json
  /** Why it failed, when it failed. */
  error?: string
  /** Peer id of the node that ran the final attempt and signed the record. */
  executor: string
  /** Peer id of the task's owner. */
  owner: string
  /** Lease epoch of the final attempt; a record of a higher epoch supersedes. */
  epoch: number
  /**
   * The owner's grant proof for this lease (`executor`, `epoch`), padded base64: required when
   * `executor` is not `owner` (see `grant-proof.ts`), absent otherwise.
   */
  grant?: string
  /** Every attempt, so every error stays visible. */
  attempts: AttemptRecord[]
  submittedAt: number
  startedAt: number
  finishedAt: number
}

/** Schema of one {@link AttemptRecord}: in records, in grants (earlier runs) and in releases (a failed run). */
export const attemptSchema: z.ZodType<AttemptRecord> = z
  .object({
    executor: z.string().min(1).max(MAX_PEER_ID_CHARS),
    epoch: epochSchema,
    startedAt: timestampSchema,
    finishedAt: timestampSchema,
    error: z.string().max(MAX_ERROR_CHARS).optional(),
    stack: z.string().max(MAX_STACK_CHARS).optional(),
    cut: z.enum(['lost', 'interrupted', 'cancelled']).optional(),
  })
  .strict()

/** Schema of {@link ResultRecord}: strict, every number bounded, output within `MAX_OUTPUT_BYTES`. */
/**
 * An owner's grant proof of a lease (see `grant-proof.ts`): the padded base64 of a lone lease's
 * signature, or a batch signature followed by `.index.size` and the inclusion path's hashes.
 */
export const grantProofSchema = z
  .string()
  .max(MAX_GRANT_PROOF_CHARS)
  .refine(
    isGrantProofText,
    'must be canonical base64 of a grant proof: a signature, or signature.index.size.path',
  )

export const resultRecordSchema: z.ZodType<ResultRecord> = z
  .object({
    v: z.literal(1),
    taskId: taskIdSchema,
    status: taskStatusSchema,
    output: outputSchema.optional(),
    error: z.string().max(MAX_ERROR_CHARS).optional(),
    executor: peerIdSchema,
    owner: peerIdSchema,
    epoch: epochSchema,
    grant: grantProofSchema.optional(),
    attempts: z.array(attemptSchema).max(MAX_RECORD_ATTEMPTS),
    submittedAt: timestampSchema,
    startedAt: timestampSchema,
    finishedAt: timestampSchema,
  })
  .strict()

/** Most records one executor signature covers (a batch signed at once). */
export const MAX_SIGNED_BATCH = 1024
/** Longest inclusion path of a record in its batch (⌈log₂ MAX_SIGNED_BATCH⌉ hashes). */
export const MAX_PROOF_HASHES = 10

/** Padded base64 of one SHA-256 hash (44 characters). */
const hashBase64Schema = base64Schema(44, 44)

/** Where a record sits in the batch its executor signed: leaf `index` of `size`, and the sibling hashes up to the root. */
export const batchProofSchema = z
  .object({
    index: z
      .number()
      .int()
      .min(0)
      .max(MAX_SIGNED_BATCH - 1),
    size: z.number().int().min(2).max(MAX_SIGNED_BATCH),
    path: z.array(hashBase64Schema).min(1).max(MAX_PROOF_HASHES),
  })
  .strict()

/**
 * Schema of a stored value: the record, the base64 Ed25519 signature of its executor over the root
 * of the batch it was signed in, and (for a batch of more than one) its inclusion proof.
 */
export const signedResultSchema = z
  .object({
    record: resultRecordSchema,
    signature: base64Schema(4, 1024),
    proof: batchProofSchema.optional(),
  })
  .strict()

/**
 * The DHT key of a task's result: the UTF-8 bytes of `/taskmesh-result/<taskId>`. Three path
 * segments, so kad-dht runs the validator and selector registered under `taskmesh-result`.
 */
export function resultKey(taskId: string): Uint8Array {
  return fromString(`/${RESULT_KEY_PREFIX}/${taskId}`, 'utf8')
}

/** The task id named by a result key, or `undefined` when the key is not a result key. */
export function taskIdFromResultKey(key: Uint8Array): string | undefined {
  const parts = bytesToString(key, 'utf8').split('/')
  if (parts.length !== 3 || parts[0] !== '' || parts[1] !== RESULT_KEY_PREFIX || parts[2] === '')
    return undefined
  return parts[2]
}

/** Encodes a signed record value as padded base64, the form notices and replies carry. */
export function recordToBase64(value: Uint8Array): string {
  return toBase64(value)
}

/**
 * Decodes a record value in canonical padded base64 (checked strictly: no stray characters, no
 * spare bits set).
 * @throws InvalidRecordError when the text is not canonical padded base64 or is too long.
 */
export function recordFromBase64(text: string): Uint8Array {
  if (!recordBase64Schema.safeParse(text).success) {
    throw new InvalidRecordError('result record: not canonical padded base64, or over the size limit')
  }
  return fromBase64(text)
}

import { peerIdFromString } from '@libp2p/peer-id'
import { z } from 'zod'
import { MAX_INPUT_BYTES, MAX_OUTPUT_BYTES } from '../../task/limits.ts'
import { type Json, jsonByteLength, NAME_PATTERN, type TaskSpec, taskSpecSchema } from '../../task/spec.ts'
import type { Task } from '../../task/task.ts'
import { isTaskId } from '../../task/task-id.ts'
import { isCanonicalBase64 } from '../../util/base64.ts'
import { memoizeString } from '../../util/memo.ts'
import {
  MAX_DURATION_MS,
  MAX_NONCE_CHARS,
  MAX_PEER_ID_CHARS,
  MAX_RECORD_BASE64_CHARS,
  MAX_REQUEST_ID_CHARS,
  MAX_TASK_ID_CHARS,
  MAX_TIMESTAMP_MS,
} from '../constants.ts'

/** A content-derived task id (CIDv1, raw, sha2-256), see `isTaskId`. */
export const taskIdSchema = z.string().max(MAX_TASK_ID_CHARS).refine(isTaskId, 'not a task id')

/**
 * True when `value` is a libp2p peer id in its canonical string form (what `peerId.toString()`
 * gives), so that equal peers always compare equal as strings.
 */
export const isPeerIdString: (value: string) => boolean = memoizeString((value) => {
  try {
    return peerIdFromString(value).toString() === value
  } catch {
    return false
  }
})

/** A libp2p peer id in its canonical string form. */
export const peerIdSchema = z.string().min(1).max(MAX_PEER_ID_CHARS).refine(isPeerIdString, 'not a peer id')

/** A peer id or a light client's name. */
export const submitterSchema = z.string().min(1).max(MAX_PEER_ID_CHARS)

/** Identifies one request among a peer's requests; echoed in the reply. */
export const requestIdSchema = z.string().min(1).max(MAX_REQUEST_ID_CHARS)

/** A Unix time in ms, a non-negative integer no later than the largest valid `Date`. */
export const timestampSchema = z.number().int().min(0).max(MAX_TIMESTAMP_MS)

/** A duration in ms, finite and non-negative. */
export const durationMsSchema = z.number().min(0).max(MAX_DURATION_MS)

/** A lease epoch: a non-negative safe integer. */
export const epochSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

/** A handler type or label, see `NAME_PATTERN`. */
export const nameSchema = z.string().regex(NAME_PATTERN, 'must match [a-z0-9][a-z0-9._:/-]{0,63}')

/** Final status of a task. */
export const taskStatusSchema = z.enum(['succeeded', 'failed'])

/**
 * Canonical padded base64 (see `isCanonicalBase64`): the only form accepted on the wire, so each
 * value has exactly one byte form.
 */
export const base64Schema = (minChars: number, maxChars: number) =>
  z
    .string()
    .min(minChars)
    .max(maxChars)
    .refine(isCanonicalBase64, 'must be canonical padded base64 (standard alphabet, unused bits zero)')

/** A signed result record value in canonical padded base64. */
export const recordBase64Schema = base64Schema(4, MAX_RECORD_BASE64_CHARS)

/** Any JSON value (finite numbers only). */
export const jsonValueSchema: z.ZodType<Json> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number(),
    z.string(),
    z.array(jsonValueSchema),
    z.record(z.string(), jsonValueSchema),
  ]),
)

/** A task's output: any JSON value of at most `MAX_OUTPUT_BYTES`. */
export const outputSchema = jsonValueSchema.refine(
  (value) => jsonByteLength(value) <= MAX_OUTPUT_BYTES,
  `over the limit of ${MAX_OUTPUT_BYTES} bytes`,
)

const SPEC_KEYS = ['type', 'input', 'priority', 'resources', 'timeoutMs', 'maxAttempts', 'dependsOn'] as const
const RESOURCE_KEYS = ['slots', 'memoryMb', 'labels'] as const

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * A task spec on the wire: the owner has filled every default already, so every field must be
 * present (a missing one is refused rather than defaulted); otherwise exactly `taskSpecSchema`,
 * plus the input size limit.
 */
export const filledTaskSpecSchema: z.ZodType<TaskSpec> = z
  .unknown()
  .superRefine((value, ctx) => {
    if (!isObject(value)) return
    for (const key of SPEC_KEYS) {
      if (!Object.hasOwn(value, key)) ctx.addIssue({ code: 'custom', path: [key], message: 'required' })
    }
    const resources = value.resources
    if (!isObject(resources)) return
    for (const key of RESOURCE_KEYS) {
      if (!Object.hasOwn(resources, key)) {
        ctx.addIssue({ code: 'custom', path: ['resources', key], message: 'required' })
      }
    }
  })
  .pipe(taskSpecSchema)
  .refine((spec) => jsonByteLength(spec.input) <= MAX_INPUT_BYTES, {
    message: `over the limit of ${MAX_INPUT_BYTES} bytes`,
    path: ['input'],
  })

/**
 * An accepted task as it travels in announcements and steal grants, as zod checks it. Decoders
 * use `taskSchema` (`task-schema.ts`), which asks a fast exact check first.
 */
export const fullTaskSchema: z.ZodType<Task> = z
  .object({
    id: taskIdSchema,
    spec: filledTaskSpecSchema,
    submitter: submitterSchema,
    nonce: z.string().min(1).max(MAX_NONCE_CHARS),
    owner: peerIdSchema,
    submittedAt: timestampSchema,
  })
  .strict()

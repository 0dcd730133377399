import { z } from 'zod'
import { MAX_TASKS_PER_SUBMISSION } from '../../task/limits.ts'
import { MAX_DURATION_MS, MAX_ERROR_CHARS, MAX_WATCH_TASKS } from '../constants.ts'
import { errorReplySchema } from './steal-messages.ts'
import {
  peerIdSchema,
  recordBase64Schema,
  requestIdSchema,
  submitterSchema,
  taskIdSchema,
  timestampSchema,
} from './wire-types.ts'

/** Most events a story reply carries. */
export const MAX_STORY_EVENTS = 1024

/** A light client submits raw task specs; the node validates them and fills defaults. */
export const submitRequestSchema = z
  .object({
    type: z.literal('submit'),
    requestId: requestIdSchema,
    tasks: z.array(z.unknown()).min(1).max(MAX_TASKS_PER_SUBMISSION),
    submitter: submitterSchema.optional(),
  })
  .strict()

/** The ids of the accepted tasks, in submission order (the `SubmitReply` type). */
export const submittedReplySchema = z
  .object({
    type: z.literal('submitted'),
    requestId: requestIdSchema,
    ids: z.array(taskIdSchema).max(MAX_TASKS_PER_SUBMISSION),
  })
  .strict()

/** Asks for a task's result; with `wait`, the node holds the stream until it lands or `timeoutMs`. */
export const resultRequestSchema = z
  .object({
    type: z.literal('result'),
    requestId: requestIdSchema,
    taskId: taskIdSchema,
    wait: z.boolean().optional(),
    timeoutMs: z.number().int().min(0).max(MAX_DURATION_MS).optional(),
  })
  .strict()

/** A task's signed result record in base64, or `null` when none exists (yet). */
export const resultReplySchema = z
  .object({
    type: z.literal('result'),
    requestId: requestIdSchema,
    taskId: taskIdSchema,
    record: recordBase64Schema.nullable(),
  })
  .strict()

/** Asks for one `ResultReply` per task as each result lands; the node closes after the last. */
export const watchRequestSchema = z
  .object({
    type: z.literal('watch'),
    requestId: requestIdSchema,
    taskIds: z.array(taskIdSchema).min(1).max(MAX_WATCH_TASKS),
  })
  .strict()

/** Asks for the node's status. */
export const statusRequestSchema = z
  .object({ type: z.literal('status'), requestId: requestIdSchema })
  .strict()

/** The node's status: a JSON object whose shape the node defines. */
export const statusReplySchema = z
  .object({
    type: z.literal('status'),
    requestId: requestIdSchema,
    status: z.record(z.string(), z.unknown()),
  })
  .strict()

/**
 * Cancels a task. A node that does not own it forwards the request to the owner (with
 * `forwarded: true`, which is never forwarded again).
 */
export const cancelRequestSchema = z
  .object({
    type: z.literal('cancel'),
    requestId: requestIdSchema,
    taskId: taskIdSchema,
    forwarded: z.boolean().optional(),
  })
  .strict()

/** `cancelled`: the owner ended the task as failed with `cancelled`; `finished`: it had a result already. */
export const cancelReplySchema = z
  .object({
    type: z.literal('cancelled'),
    requestId: requestIdSchema,
    taskId: taskIdSchema,
    outcome: z.enum(['cancelled', 'finished']),
    owner: peerIdSchema,
  })
  .strict()

/** Asks how a task stands (at the node asked, or at its owner when that node does not know). */
export const stateRequestSchema = z
  .object({
    type: z.literal('state'),
    requestId: requestIdSchema,
    taskId: taskIdSchema,
    forwarded: z.boolean().optional(),
  })
  .strict()

/** How a task stands, and why when it waits or is stuck. */
export const stateReplySchema = z
  .object({
    type: z.literal('state'),
    requestId: requestIdSchema,
    taskId: taskIdSchema,
    state: z.enum(['waiting', 'queued', 'leased', 'running', 'unschedulable', 'done', 'unknown']),
    reason: z.string().max(MAX_ERROR_CHARS).optional(),
    /** The task's owner as the answering node knows it (absent when it knows none). */
    owner: peerIdSchema.optional(),
  })
  .strict()

/** Asks for the decisions the node took about a task. */
export const storyRequestSchema = z
  .object({ type: z.literal('story'), requestId: requestIdSchema, taskId: taskIdSchema })
  .strict()

/** One decision of a story: when, what, and its facts (peer ids, epochs, errors). */
export const storyEventSchema = z
  .object({
    at: timestampSchema,
    event: z.string().min(1).max(64),
    detail: z
      .record(z.string().max(64), z.union([z.string().max(MAX_ERROR_CHARS), z.number(), z.boolean()]))
      .optional(),
  })
  .strict()

/** A task's story at the node asked, oldest first (empty when it knows nothing of the task). */
export const storyReplySchema = z
  .object({
    type: z.literal('story'),
    requestId: requestIdSchema,
    taskId: taskIdSchema,
    events: z.array(storyEventSchema).max(MAX_STORY_EVENTS),
  })
  .strict()

/** Any request of the submit protocol. */
export const submitFrameSchema = z.discriminatedUnion('type', [
  submitRequestSchema,
  resultRequestSchema,
  watchRequestSchema,
  statusRequestSchema,
  cancelRequestSchema,
  stateRequestSchema,
  storyRequestSchema,
])

/**
 * Any reply of the submit protocol (its type is `SubmitFrameReply`; `SubmitReply` is only the
 * `submitted` member).
 */
export const submitReplySchema = z.discriminatedUnion('type', [
  submittedReplySchema,
  resultReplySchema,
  statusReplySchema,
  cancelReplySchema,
  stateReplySchema,
  storyReplySchema,
  errorReplySchema,
])

/** A submission, see {@link submitRequestSchema}. */
export type SubmitRequest = z.infer<typeof submitRequestSchema>
/** A submission's accepted ids, see {@link submittedReplySchema}. */
export type SubmitReply = z.infer<typeof submittedReplySchema>
/** A result query, see {@link resultRequestSchema}. */
export type ResultRequest = z.infer<typeof resultRequestSchema>
/** A result answer, see {@link resultReplySchema}. */
export type ResultReply = z.infer<typeof resultReplySchema>
/** A watch request, see {@link watchRequestSchema}. */
export type WatchRequest = z.infer<typeof watchRequestSchema>
/** A status query, see {@link statusRequestSchema}. */
export type StatusRequest = z.infer<typeof statusRequestSchema>
/** A status answer, see {@link statusReplySchema}. */
export type StatusReply = z.infer<typeof statusReplySchema>
/** A cancel request, see {@link cancelRequestSchema}. */
export type CancelRequest = z.infer<typeof cancelRequestSchema>
/** A cancel answer, see {@link cancelReplySchema}. */
export type CancelReply = z.infer<typeof cancelReplySchema>
/** A state answer, see {@link stateReplySchema}. */
export type StateReply = z.infer<typeof stateReplySchema>
/** A story answer, see {@link storyReplySchema}. */
export type StoryReply = z.infer<typeof storyReplySchema>
/** Any submit-protocol request. */
export type SubmitFrame = z.infer<typeof submitFrameSchema>
/** Any submit-protocol reply, see {@link submitReplySchema}. */
export type SubmitFrameReply = z.infer<typeof submitReplySchema>

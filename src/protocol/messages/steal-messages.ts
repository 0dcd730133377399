import { z } from 'zod'
import { MAX_LABELS } from '../../task/limits.ts'
import {
  MAX_DURATION_MS,
  MAX_ERROR_CHARS,
  MAX_HANDLER_TYPES,
  MAX_LEASES_PER_MESSAGE,
  MAX_MEMORY_MB,
  MAX_NODE_SLOTS,
  MAX_QUEUED_TASKS,
  MAX_RECORD_ATTEMPTS,
  MAX_SPEED,
  MAX_TASKS_PER_MESSAGE,
} from '../constants.ts'
import { attemptSchema, grantProofSchema } from '../records/result-record-schema.ts'
import { withFastPath } from './fast-path.ts'
import { isWellFormedStealFrame, isWellFormedStealReply } from './steal-fast-check.ts'
import { taskSchema } from './task-schema.ts'
import {
  durationMsSchema,
  epochSchema,
  nameSchema,
  recordBase64Schema,
  requestIdSchema,
  taskIdSchema,
  taskStatusSchema,
  timestampSchema,
} from './wire-types.ts'

const slotsSchema = z.number().int().min(0).max(MAX_NODE_SLOTS)
const leaseRefSchema = z.object({ taskId: taskIdSchema, epoch: epochSchema }).strict()
const leaseRefsSchema = z.array(leaseRefSchema).max(MAX_LEASES_PER_MESSAGE)
const taskIdsSchema = z.array(taskIdSchema).max(MAX_LEASES_PER_MESSAGE)

/** A thief asks a victim for up to `max` queued tasks it can run. */
export const stealRequestSchema = z
  .object({
    type: z.literal('steal'),
    requestId: requestIdSchema,
    max: z.number().int().min(1).max(MAX_TASKS_PER_MESSAGE),
    offer: z
      .object({
        types: z.array(nameSchema).max(MAX_HANDLER_TYPES),
        labels: z.array(nameSchema).max(MAX_LABELS),
        slots: slotsSchema,
        memoryMb: z.number().int().min(0).max(MAX_MEMORY_MB),
      })
      .strict(),
    queued: z.number().int().min(0).max(MAX_QUEUED_TASKS),
    queuedWorkMs: durationMsSchema,
    speed: z.number().min(0).max(MAX_SPEED),
    freeSlots: slotsSchema,
  })
  .strict()

/** What a grant and an offer carry: tasks, each under a lease of the owner's. */
const grantedFields = {
  requestId: requestIdSchema,
  tasks: z.array(taskSchema).max(MAX_TASKS_PER_MESSAGE),
  leases: z
    .array(
      z
        .object({
          taskId: taskIdSchema,
          epoch: epochSchema,
          expiresAt: timestampSchema,
          /** The owner's grant proof of this lease (see `grant-proof.ts`), for the thief's record. */
          proof: grantProofSchema,
          /** The task's earlier runs (failed, lost, interrupted), for the thief's record. */
          attempts: z.array(attemptSchema).max(MAX_RECORD_ATTEMPTS).optional(),
        })
        .strict(),
    )
    .max(MAX_LEASES_PER_MESSAGE),
  ttlMs: z.number().int().min(0).max(MAX_DURATION_MS),
}

/** The victim's answer to a steal: the granted tasks (possibly none), each under a lease. */
export const stealGrantSchema = z.object({ type: z.literal('grant'), ...grantedFields }).strict()

/**
 * Steal 1.1: an owner hands queued tasks it cannot start now to a peer whose last beacon showed free
 * slots for them, each under a lease, without waiting to be asked (the peer's steal would take a
 * beacon and a round trip more).
 */
export const offerRequestSchema = z.object({ type: z.literal('offer'), ...grantedFields }).strict()

/** The peer's answer to an offer: the tasks it took (their leases hold) and those it hands back. */
export const offeredReplySchema = z
  .object({
    type: z.literal('offered'),
    requestId: requestIdSchema,
    accepted: taskIdsSchema,
    declined: taskIdsSchema,
  })
  .strict()

/** The executor extends its leases. */
export const renewRequestSchema = z
  .object({ type: z.literal('renew'), requestId: requestIdSchema, leases: leaseRefsSchema })
  .strict()

/** Which leases the owner extended and which it no longer honours. */
export const renewReplySchema = z
  .object({
    type: z.literal('renewed'),
    requestId: requestIdSchema,
    accepted: taskIdsSchema,
    rejected: taskIdsSchema,
  })
  .strict()

/** The executor reports finished tasks to their owner, batched, each with its signed record when it fits. */
export const completeRequestSchema = z
  .object({
    type: z.literal('complete'),
    requestId: requestIdSchema,
    completions: z
      .array(
        z
          .object({
            taskId: taskIdSchema,
            epoch: epochSchema,
            status: taskStatusSchema,
            record: recordBase64Schema.optional(),
          })
          .strict(),
      )
      .min(1)
      .max(MAX_LEASES_PER_MESSAGE),
  })
  .strict()

/** The owner's verdict on each completion: accepted, stale (older epoch or other holder) or unknown task. */
export const completeReplySchema = z
  .object({
    type: z.literal('completed'),
    requestId: requestIdSchema,
    outcomes: z
      .array(z.object({ taskId: taskIdSchema, outcome: z.enum(['accepted', 'stale', 'unknown']) }).strict())
      .max(MAX_LEASES_PER_MESSAGE),
  })
  .strict()

/**
 * The executor gives leased tasks back: unstarted, or with the run it made — a failed attempt for
 * the owner to retry (after a backoff, queued where any node may steal it), or a run its node cut
 * short when it stopped (`cut: 'interrupted'`, queued again at once).
 */
export const releaseRequestSchema = z
  .object({
    type: z.literal('release'),
    requestId: requestIdSchema,
    leases: z
      .array(
        z.object({ taskId: taskIdSchema, epoch: epochSchema, attempt: attemptSchema.optional() }).strict(),
      )
      .max(MAX_LEASES_PER_MESSAGE),
  })
  .strict()

/** Which leases the owner took back. */
export const releaseReplySchema = z
  .object({ type: z.literal('released'), requestId: requestIdSchema, released: taskIdsSchema })
  .strict()

/** A refusal, on either stream protocol. `code` is machine-readable, `message` for people. */
export const errorReplySchema = z
  .object({
    type: z.literal('error'),
    requestId: requestIdSchema,
    code: z.string().min(1).max(64),
    message: z.string().max(MAX_ERROR_CHARS),
  })
  .strict()

/** The requests of the steal protocol 1.0. */
const frames10 = [
  stealRequestSchema,
  renewRequestSchema,
  completeRequestSchema,
  releaseRequestSchema,
] as const

// every node decodes a steal or complete request, a grant or a verdict for most tasks it steals
// or runs for another: those take a hand-written check first (see `steal-fast-check.ts`)

const frameUnion10 = z.discriminatedUnion('type', [...frames10])
const frameUnion = z.discriminatedUnion('type', [...frames10, offerRequestSchema])
const replyUnion = z.discriminatedUnion('type', [
  stealGrantSchema,
  renewReplySchema,
  completeReplySchema,
  releaseReplySchema,
  offeredReplySchema,
  errorReplySchema,
])

/** Any request of the steal protocol 1.0. */
export const stealFrameSchema10 = withFastPath(isWellFormedStealFrame, frameUnion10)

/** Any request of the steal protocol 1.1: those of 1.0 and `offer`. */
export const stealFrameSchema = withFastPath(isWellFormedStealFrame, frameUnion)

/** Any reply of the steal protocol (1.1: those of 1.0 and `offered`, which a 1.0 node never sends). */
export const stealReplySchema = withFastPath(isWellFormedStealReply, replyUnion)

/** A steal request, see {@link stealRequestSchema}. */
export type StealRequest = z.infer<typeof stealRequestSchema>
/** A steal grant, see {@link stealGrantSchema}. */
export type StealGrant = z.infer<typeof stealGrantSchema>
/** A lease granted with a stolen task. */
export type Lease = StealGrant['leases'][number]
/** A lease renewal request, see {@link renewRequestSchema}. */
export type RenewRequest = z.infer<typeof renewRequestSchema>
/** A lease renewal reply, see {@link renewReplySchema}. */
export type RenewReply = z.infer<typeof renewReplySchema>
/** A completion report, see {@link completeRequestSchema}. */
export type CompleteRequest = z.infer<typeof completeRequestSchema>
/** A completion verdict, see {@link completeReplySchema}. */
export type CompleteReply = z.infer<typeof completeReplySchema>
/** A lease release request, see {@link releaseRequestSchema}. */
export type ReleaseRequest = z.infer<typeof releaseRequestSchema>
/** A lease release reply, see {@link releaseReplySchema}. */
export type ReleaseReply = z.infer<typeof releaseReplySchema>
/** An offer of queued tasks to an idle peer, see {@link offerRequestSchema}. */
export type OfferRequest = z.infer<typeof offerRequestSchema>
/** The answer to an offer, see {@link offeredReplySchema}. */
export type OfferedReply = z.infer<typeof offeredReplySchema>
/** A refusal, see {@link errorReplySchema}. */
export type ErrorReply = z.infer<typeof errorReplySchema>
/** Any steal-protocol request. */
export type StealFrame = z.infer<typeof frameUnion>
/** Any steal-protocol reply. */
export type StealReply = z.infer<typeof replyUnion>

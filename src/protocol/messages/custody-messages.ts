import { z } from 'zod'
import { decodeMessage } from '../codec.ts'
import {
  MAX_CUSTODIANS,
  MAX_FRAME_BYTES,
  MAX_HOT_ADDRS,
  MAX_LEASES_PER_MESSAGE,
  MAX_MULTIADDR_CHARS,
  MAX_PEER_ID_CHARS,
  MAX_TASKS_PER_MESSAGE,
} from '../constants.ts'
import { isWellFormedCustodyFrame, isWellFormedCustodyReply } from './custody-fast-check.ts'
import { withFastPath } from './fast-path.ts'
import { errorReplySchema } from './steal-messages.ts'
import { taskSchema } from './task-schema.ts'
import { requestIdSchema, taskIdSchema } from './wire-types.ts'

/** A custodian as a `hold` frame names it: its peer id and where it listens (so its peers can reach it). */
export const custodianSchema = z
  .object({
    peerId: z.string().min(1).max(MAX_PEER_ID_CHARS),
    addrs: z.array(z.string().min(1).max(MAX_MULTIADDR_CHARS)).max(MAX_HOT_ADDRS),
  })
  .strict()

/**
 * `hold` (custody protocol): an owner hands the specs of tasks it owns to one of its custodians,
 * naming all of them (the custodian adopts a task of a dead owner only when it is the live
 * custodian closest to the task id, so the custodians keep in touch). Every task's `owner` must be
 * the sender. A `hold` without tasks only tells a custodian the owner's new set of custodians.
 */
export const holdRequestSchema = z
  .object({
    type: z.literal('hold'),
    requestId: requestIdSchema,
    custodians: z.array(custodianSchema).min(1).max(MAX_CUSTODIANS),
    tasks: z.array(taskSchema).max(MAX_TASKS_PER_MESSAGE),
  })
  .strict()

/** `drop` (custody protocol): the owner's tasks that have a result now (the custodian forgets them). */
export const dropRequestSchema = z
  .object({
    type: z.literal('drop'),
    requestId: requestIdSchema,
    ids: z.array(taskIdSchema).min(1).max(MAX_LEASES_PER_MESSAGE),
  })
  .strict()

/**
 * `forget` (custody protocol): the first frame an owner sends a peer after it (re)started. The
 * custodian forgets every task of the sender that it guards: what an earlier life of the owner
 * handed it is void (the owner's journal has every open task, and the new life hands them out
 * again), so a task that ended while this peer was no longer its custodian is never adopted.
 */
export const forgetRequestSchema = z
  .object({
    type: z.literal('forget'),
    requestId: requestIdSchema,
  })
  .strict()

/**
 * `query` (custody protocol): one custodian of a dead owner asks another — the successor its list
 * names for these tasks — whether it knows them, before leaving them to it (a custodian named in an
 * owner's list may never have got a `hold` the owner sent just before it died).
 */
export const queryRequestSchema = z
  .object({
    type: z.literal('query'),
    requestId: requestIdSchema,
    owner: z.string().min(1).max(MAX_PEER_ID_CHARS),
    ids: z.array(taskIdSchema).min(1).max(MAX_LEASES_PER_MESSAGE),
  })
  .strict()

const custodyFrameUnion = z.discriminatedUnion('type', [
  holdRequestSchema,
  dropRequestSchema,
  forgetRequestSchema,
  queryRequestSchema,
])

/** Any request of the custody protocol (`hold` and `drop` checked by hand first, see `withFastPath`). */
export const custodyFrameSchema = withFastPath(isWellFormedCustodyFrame, custodyFrameUnion)

/** The custodian's answer: how many of the sender's tasks it holds now. */
export const custodyAckSchema = z
  .object({ type: z.literal('held'), requestId: requestIdSchema, held: z.number().int().min(0) })
  .strict()

/**
 * The answer to a `query`: of the ids asked about, those the receiver guards for that owner or runs
 * under its lease (left to it: it adopts them if they are its share), and those it has taken — owns
 * (adopted: its own custodians guard them) or knows the result of (the asker may forget them). An id
 * in neither is unknown to it.
 */
export const knownReplySchema = z
  .object({
    type: z.literal('known'),
    requestId: requestIdSchema,
    guarded: z.array(taskIdSchema).max(MAX_LEASES_PER_MESSAGE),
    taken: z.array(taskIdSchema).max(MAX_LEASES_PER_MESSAGE),
  })
  .strict()

const custodyReplyUnion = z.discriminatedUnion('type', [custodyAckSchema, knownReplySchema, errorReplySchema])

/**
 * Any reply of the custody protocol (an `error` with `ERR_NOT_ALLOWED` or `ERR_INVALID_FRAME`); a
 * `held` answer is checked by hand first.
 */
export const custodyReplySchema = withFastPath(isWellFormedCustodyReply, custodyReplyUnion)

/** A custodian named in a `hold`, see {@link custodianSchema}. */
export type CustodianRef = z.infer<typeof custodianSchema>
/** A `hold` request, see {@link holdRequestSchema}. */
export type HoldRequest = z.infer<typeof holdRequestSchema>
/** A `drop` request, see {@link dropRequestSchema}. */
export type DropRequest = z.infer<typeof dropRequestSchema>
/** A `forget` request, see {@link forgetRequestSchema}. */
export type ForgetRequest = z.infer<typeof forgetRequestSchema>
/** A `query` request, see {@link queryRequestSchema}. */
export type QueryRequest = z.infer<typeof queryRequestSchema>
/** A `known` reply, see {@link knownReplySchema}. */
export type KnownReply = z.infer<typeof knownReplySchema>
/** Any custody-protocol request. */
export type CustodyFrame = z.infer<typeof custodyFrameUnion>
/** Any custody-protocol reply. */
export type CustodyReply = z.infer<typeof custodyReplyUnion>

/**
 * Decodes a custody-protocol request frame.
 * @throws InvalidMessageError saying what is wrong.
 */
export function decodeCustodyFrame(bytes: Uint8Array): CustodyFrame {
  return decodeMessage(custodyFrameSchema, bytes, MAX_FRAME_BYTES, 'custody frame')
}

/**
 * The JSON array of tasks already encoded (each task's JSON text): the `tasks` of a `hold`, made
 * once for every custodian of an owner (see {@link encodeHoldFrame}).
 */
export function encodeTaskList(tasks: readonly string[]): string {
  return `[${tasks.join(',')}]`
}

/**
 * A `hold` frame's bytes around a task list made by {@link encodeTaskList}: the same frame as
 * `encodeMessage` makes of `{ type: 'hold', requestId, custodians, tasks }`, without encoding the
 * tasks again for each custodian.
 */
export function encodeHoldFrame(requestId: string, custodians: CustodianRef[], taskList: string): Uint8Array {
  return Buffer.from(
    `{"type":"hold","requestId":${JSON.stringify(requestId)},"custodians":${JSON.stringify(custodians)},"tasks":${taskList}}`,
  )
}

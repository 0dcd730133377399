import { z } from 'zod'
import { MAX_LABELS } from '../task/limits.ts'
import {
  MAX_HANDLER_TYPES,
  MAX_MEMORY_MB,
  MAX_NODE_SLOTS,
  MAX_NOTICES_PER_MESSAGE,
  MAX_QUEUED_TASKS,
  MAX_SPEED,
  MAX_TASKS_PER_MESSAGE,
} from './constants.ts'
import { taskSchema } from './task-schema.ts'
import {
  durationMsSchema,
  epochSchema,
  nameSchema,
  taskIdSchema,
  taskStatusSchema,
  timestampSchema,
} from './wire-types.ts'

/**
 * Published by a task's owner on `TASKS_TOPIC`: the full tasks it accepted (1 to
 * `MAX_TASKS_PER_MESSAGE`). Every task's `owner` must be the gossip sender; the validator checks it.
 */
export const announcementSchema = z
  .object({
    v: z.literal(1),
    tasks: z.array(taskSchema).min(1).max(MAX_TASKS_PER_MESSAGE),
  })
  .strict()

/** A task announcement, see {@link announcementSchema}. */
export type Announcement = z.infer<typeof announcementSchema>

/** Published by every node on `CAPACITY_TOPIC` about once a second and at once on a big change. */
export const beaconSchema = z
  .object({
    v: z.literal(1),
    /** Increases with every beacon of one node run; older beacons are dropped. */
    seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    /** Execution slots the node has in all. */
    slots: z.number().int().min(0).max(MAX_NODE_SLOTS),
    /** Tasks running now. */
    running: z.number().int().min(0).max(MAX_NODE_SLOTS),
    /** Tasks waiting in the node's queue. */
    queued: z.number().int().min(0).max(MAX_QUEUED_TASKS),
    /** Estimated work waiting in the queue, in ms at nominal speed. */
    queuedWorkMs: durationMsSchema,
    /** Measured speed relative to nominal (1 = nominal). */
    speed: z.number().min(0).max(MAX_SPEED),
    /** Handler types the node runs. */
    types: z.array(nameSchema).max(MAX_HANDLER_TYPES),
    /** Labels the node offers (e.g. `gpu`). */
    labels: z.array(nameSchema).max(MAX_LABELS),
    /** Memory the node offers, in MiB. */
    memoryMb: z.number().int().min(0).max(MAX_MEMORY_MB),
    /** Expected wait of a task queued now, in ms. */
    expectedWaitMs: durationMsSchema,
    /** When the beacon was sent, Unix ms. */
    sentAt: timestampSchema,
  })
  .strict()

/** A capacity beacon, see {@link beaconSchema}. */
export type Beacon = z.infer<typeof beaconSchema>

/**
 * Published on `RESULTS_TOPIC` by an executor when result records land: the tasks, their status
 * and lease epoch. The executor is the message's signer; the records themselves are in the DHT
 * (and with the executor, which serves them over the submit protocol).
 */
export const resultNoticeSchema = z
  .object({
    v: z.literal(1),
    results: z
      .array(z.object({ taskId: taskIdSchema, status: taskStatusSchema, epoch: epochSchema }).strict())
      .min(1)
      .max(MAX_NOTICES_PER_MESSAGE),
  })
  .strict()

/** A result notice, see {@link resultNoticeSchema}. */
export type ResultNotice = z.infer<typeof resultNoticeSchema>

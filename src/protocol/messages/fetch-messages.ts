import { z } from 'zod'
import { MAX_TASKS_PER_MESSAGE } from '../constants.ts'
import { errorReplySchema } from './steal-messages.ts'
import { recordBase64Schema, requestIdSchema, taskIdSchema } from './wire-types.ts'

/**
 * `fetch` (fetch protocol): which of these tasks has a result record stored at the receiver? Asked of
 * the peers closest to the tasks' keys, many tasks in one frame, where a DHT lookup per task would
 * open streams to the same peers once per task.
 */
export const fetchRequestSchema = z
  .object({
    type: z.literal('fetch'),
    requestId: requestIdSchema,
    ids: z.array(taskIdSchema).min(1).max(MAX_TASKS_PER_MESSAGE),
  })
  .strict()

/**
 * The answer to a `fetch`: the records stored at the receiver of the first `upTo` ids asked (a
 * receiver whose reply would grow past its budget answers for fewer); an id below `upTo` that
 * `held` does not name has no record there. Each `value` is the stored value (9.3) in base64, its
 * `index` the id's place in the request.
 */
export const fetchedReplySchema = z
  .object({
    type: z.literal('fetched'),
    requestId: requestIdSchema,
    upTo: z.number().int().min(0).max(MAX_TASKS_PER_MESSAGE),
    held: z
      .array(
        z
          .object({
            index: z
              .number()
              .int()
              .min(0)
              .max(MAX_TASKS_PER_MESSAGE - 1),
            value: recordBase64Schema,
          })
          .strict(),
      )
      .max(MAX_TASKS_PER_MESSAGE),
  })
  .strict()
  .refine((r) => r.held.every((h) => h.index < r.upTo), { message: 'held: an index at or past upTo' })

/** A `fetched` reply or an error. */
export const fetchReplySchema = z.union([fetchedReplySchema, errorReplySchema])

/** A `fetch` request, see {@link fetchRequestSchema}. */
export type FetchRequest = z.infer<typeof fetchRequestSchema>
/** A `fetched` reply, see {@link fetchedReplySchema}. */
export type FetchedReply = z.infer<typeof fetchedReplySchema>
/** What a `fetch` is answered with. */
export type FetchReply = z.infer<typeof fetchReplySchema>

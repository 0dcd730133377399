import { z } from 'zod'
import { MAX_NOTICES_PER_MESSAGE } from '../constants.ts'
import { epochSchema, peerIdSchema, taskIdSchema, taskStatusSchema } from './wire-types.ts'

/**
 * Published on `RESULTS_TOPIC` (every record) and `CONTESTED_TOPIC` (records that may lose to
 * another run) by an executor when result records land: the tasks, their status and lease epoch.
 * The executor is the message's signer; the records themselves are in the DHT (and with the
 * executor, which serves them over the submit protocol). A node relaying, on `CONTESTED_TOPIC`, a
 * notice of a record it holds and another node made names that node in the entry's `executor`:
 * such an entry is never the executor's word (no owner takes it for a completion), only a record
 * the signer serves.
 */
export const resultNoticeSchema = z
  .object({
    v: z.literal(1),
    results: z
      .array(
        z
          .object({
            taskId: taskIdSchema,
            status: taskStatusSchema,
            epoch: epochSchema,
            executor: peerIdSchema.optional(),
          })
          .strict(),
      )
      .min(1)
      .max(MAX_NOTICES_PER_MESSAGE),
  })
  .strict()

/** A result notice, see {@link resultNoticeSchema}. */
export type ResultNotice = z.infer<typeof resultNoticeSchema>

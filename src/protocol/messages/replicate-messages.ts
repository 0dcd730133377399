import { z } from 'zod'
import { MAX_RECORDS_PER_STORE } from '../constants.ts'
import { errorReplySchema } from './steal-messages.ts'
import { recordBase64Schema, requestIdSchema } from './wire-types.ts'

/** Peers one relayed record's `ahead` names at most. */
export const MAX_RELAY_AHEAD = 16
/** Hex characters of a peer's short id in `ahead` (a prefix of its kad-dht id). */
export const SHORT_ID_CHARS = 8

/**
 * `store` (replicate protocol): signed result record values (padded base64, byte-exact), for the
 * receiver to check and keep in its DHT store, where kad-dht's GET_VALUE serves them. `relay`
 * lists the records (indices into `records`) the receiver should pass on, once kept, to a
 * connected peer closer to the record's key than itself: the sender knows only its own
 * connections, and the key's closest peers of the whole mesh may not be among them. `ahead[j]`
 * (default none) names the peers closer to record `relay[j]`'s key than the receiver to which the
 * sender gave copies (short ids: see {@link SHORT_ID_CHARS}): they hold it already.
 */
export const storeRequestSchema = z
  .object({
    type: z.literal('store'),
    requestId: requestIdSchema,
    records: z.array(recordBase64Schema).min(1).max(MAX_RECORDS_PER_STORE),
    relay: z
      .array(
        z
          .number()
          .int()
          .min(0)
          .max(MAX_RECORDS_PER_STORE - 1),
      )
      .max(MAX_RECORDS_PER_STORE)
      .optional(),
    ahead: z
      .array(z.array(z.string().regex(new RegExp(`^[0-9a-f]{${SHORT_ID_CHARS}}$`))).max(MAX_RELAY_AHEAD))
      .max(MAX_RECORDS_PER_STORE)
      .optional(),
  })
  .strict()
  .superRefine((req, ctx) => {
    const bad = req.relay?.findIndex((i) => i >= req.records.length) ?? -1
    if (bad >= 0) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['relay', bad],
        message: `relay index ${req.relay?.[bad]} is past the ${req.records.length} records`,
      })
    }
    if (req.ahead !== undefined && req.ahead.length !== (req.relay?.length ?? 0)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['ahead'],
        message: `ahead has ${req.ahead.length} entries for ${req.relay?.length ?? 0} relayed records`,
      })
    }
  })

/**
 * What became of each record of a `store`, in order: `stored` (written), `superseded` (a record that
 * wins the selector was stored already and stays), `invalid` (refused: the value does not verify).
 */
export const storeOutcomeSchema = z.enum(['stored', 'superseded', 'invalid'])

/** Reply to a `store`: one outcome per record, in order. */
export const storeReplySchema = z
  .object({
    type: z.literal('stored'),
    requestId: requestIdSchema,
    outcomes: z.array(storeOutcomeSchema).max(MAX_RECORDS_PER_STORE),
  })
  .strict()

/** Any reply of the replicate protocol. */
export const replicateReplySchema = z.discriminatedUnion('type', [storeReplySchema, errorReplySchema])

/** A `store` request, see {@link storeRequestSchema}. */
export type StoreRequest = z.infer<typeof storeRequestSchema>
/** A `store` reply, see {@link storeReplySchema}. */
export type StoreReply = z.infer<typeof storeReplySchema>
/** One record's outcome, see {@link storeOutcomeSchema}. */
export type StoreOutcome = z.infer<typeof storeOutcomeSchema>
/** Any replicate-protocol reply. */
export type ReplicateReply = z.infer<typeof replicateReplySchema>

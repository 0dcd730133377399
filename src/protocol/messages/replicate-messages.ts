import { z } from 'zod'
import { MAX_JSON_DEPTH, MAX_RECORDS_PER_STORE, MAX_REQUEST_ID_CHARS } from '../constants.ts'
import { isWellFormedSignedResult, keysWithin } from '../records/record-fast-check.ts'
import { signedResultSchema } from '../records/result-record-schema.ts'
import { withFastPath } from './fast-path.ts'
import { isWellFormedStoreReply } from './steal-fast-check.ts'
import { errorReplySchema } from './steal-messages.ts'
import { requestIdSchema } from './wire-types.ts'

/**
 * Deepest nesting of a `store` frame: a value may nest `MAX_JSON_DEPTH` levels (an output of
 * `MAX_OUTPUT_DEPTH` within its record), and the frame puts it 2 levels deeper (`records[i]`).
 */
export const STORE_FRAME_DEPTH = MAX_JSON_DEPTH + 2

/** Peers one relayed record's `ahead` names at most. */
export const MAX_RELAY_AHEAD = 16
/** Hex characters of a peer's short id in `ahead` (a prefix of its kad-dht id). */
export const SHORT_ID_CHARS = 8
const SHORT_ID = new RegExp(`^[0-9a-f]{${SHORT_ID_CHARS}}$`)

/**
 * `store` (replicate protocol): signed result record values as JSON (each the parsed value itself,
 * not its text: no base64 to encode, check and decode, a quarter fewer bytes), for the receiver to
 * check and keep in its DHT store in their stored form (`envelopeText`), where kad-dht's GET_VALUE
 * serves them. `relay`
 * lists the records (indices into `records`) the receiver should pass on, once kept, to a
 * connected peer closer to the record's key than itself: the sender knows only its own
 * connections, and the key's closest peers of the whole mesh may not be among them. `ahead[j]`
 * (default none) names the peers closer to record `relay[j]`'s key than the receiver to which the
 * sender gave copies (short ids: see {@link SHORT_ID_CHARS}): they hold it already.
 */
const fullStoreRequestSchema = z
  .object({
    type: z.literal('store'),
    requestId: requestIdSchema,
    records: z.array(signedResultSchema).min(1).max(MAX_RECORDS_PER_STORE),
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
      .array(z.array(z.string().regex(SHORT_ID)).max(MAX_RELAY_AHEAD))
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

const STORE_REQUIRED = ['type', 'requestId', 'records']
const STORE_KEYS = new Set([...STORE_REQUIRED, 'relay', 'ahead'])

/** `relay` and `ahead` as the schema has them, for `records` of length `n`. */
function isRelay(relay: unknown, ahead: unknown, n: number): boolean {
  if (relay === undefined) return ahead === undefined || (Array.isArray(ahead) && ahead.length === 0)
  if (!Array.isArray(relay) || relay.length > MAX_RECORDS_PER_STORE) return false
  for (let i = 0; i < relay.length; i++)
    if (!Number.isInteger(relay[i]) || relay[i] < 0 || relay[i] >= n) return false
  if (ahead === undefined) return true
  if (!Array.isArray(ahead) || ahead.length !== relay.length) return false
  for (let j = 0; j < ahead.length; j++) {
    const ids = ahead[j]
    if (!Array.isArray(ids) || ids.length > MAX_RELAY_AHEAD) return false
    for (let k = 0; k < ids.length; k++)
      if (typeof ids[k] !== 'string' || !SHORT_ID.test(ids[k])) return false
  }
  return true
}

/** Every element is a well-formed signed value (a loop: `Array#every` skips holes, a schema does not). */
function allSigned(records: unknown[]): boolean {
  for (let i = 0; i < records.length; i++) if (!isWellFormedSignedResult(records[i])) return false
  return true
}

/** True only for a `store` frame the schema accepts as it is (see `withFastPath`). */
export function isWellFormedStoreRequest(v: unknown): v is z.infer<typeof fullStoreRequestSchema> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const f = v as Record<string, unknown>
  if (!keysWithin(f, STORE_REQUIRED, STORE_KEYS)) return false
  const { records } = f
  return (
    f.type === 'store' &&
    typeof f.requestId === 'string' &&
    f.requestId.length >= 1 &&
    f.requestId.length <= MAX_REQUEST_ID_CHARS &&
    Array.isArray(records) &&
    records.length >= 1 &&
    records.length <= MAX_RECORDS_PER_STORE &&
    allSigned(records) &&
    isRelay(f.relay, f.ahead, records.length)
  )
}

/** `fullStoreRequestSchema`, asking {@link isWellFormedStoreRequest} first. */
export const storeRequestSchema = withFastPath(isWellFormedStoreRequest, fullStoreRequestSchema)

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

const replicateReplyUnion = z.discriminatedUnion('type', [storeReplySchema, errorReplySchema])

/** Any reply of the replicate protocol (a `stored` reply takes {@link isWellFormedStoreReply} first). */
export const replicateReplySchema = withFastPath(isWellFormedStoreReply, replicateReplyUnion)

/** A `store` request, see {@link storeRequestSchema}. */
export type StoreRequest = z.infer<typeof fullStoreRequestSchema>
/** A `store` reply, see {@link storeReplySchema}. */
export type StoreReply = z.infer<typeof storeReplySchema>
/** One record's outcome, see {@link storeOutcomeSchema}. */
export type StoreOutcome = z.infer<typeof storeOutcomeSchema>
/** Any replicate-protocol reply. */
export type ReplicateReply = z.infer<typeof replicateReplyUnion>

const COMMA = Buffer.from(',')

/**
 * The bytes of a `store` frame whose `records` are `values` as they are: each a stored value (UTF-8
 * JSON, made or checked by this node when it was kept), set into the frame verbatim — the sender
 * neither parses nor encodes it again.
 */
export function encodeStoreFrame(
  requestId: string,
  values: readonly Uint8Array[],
  relay: { relay?: number[]; ahead?: string[][] } = {},
): Uint8Array {
  const parts: Uint8Array[] = [
    Buffer.from(`{"type":"store","requestId":${JSON.stringify(requestId)},"records":[`),
  ]
  values.forEach((value, i) => {
    if (i > 0) parts.push(COMMA)
    parts.push(value)
  })
  let tail = ']'
  if (relay.relay !== undefined) tail += `,"relay":${JSON.stringify(relay.relay)}`
  if (relay.ahead !== undefined) tail += `,"ahead":${JSON.stringify(relay.ahead)}`
  parts.push(Buffer.from(`${tail}}`))
  return Buffer.concat(parts)
}

import { isUtf8 } from 'node:buffer'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { z } from 'zod'
import { checkJsonShape, formatPath, MAX_JSON_DEPTH } from '../task/json-shape.ts'
import { issueMessage } from '../task/spec.ts'
import { InvalidMessageError } from './errors.ts'
import { fastCheckOf } from './messages/fast-path.ts'

const encoder = new TextEncoder()

/**
 * Encodes a wire message as UTF-8 JSON.
 * @throws InvalidMessageError when the value has no JSON form (`undefined`, a bigint, a cycle).
 */
export function encodeMessage(value: unknown): Uint8Array {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (err) {
    throw new InvalidMessageError(`cannot encode: ${(err as Error).message}`)
  }
  if (text === undefined) throw new InvalidMessageError('cannot encode: the value has no JSON form')
  return encoder.encode(text)
}

/**
 * Decodes and validates one wire message: checks the size first, then UTF-8, JSON, nesting depth
 * and `__proto__` keys, then the schema.
 * @param schema - the message schema; its output is returned.
 * @param bytes - the raw message.
 * @param maxBytes - largest accepted size, in bytes.
 * @param what - the message's name, first in every error (`beacon`, `steal frame`).
 * @param maxDepth - deepest nesting accepted. @defaultValue MAX_JSON_DEPTH
 * @throws InvalidMessageError saying what is wrong and where, e.g. `beacon: slots: expected number,
 *   received string` or `announcement: 2000000 bytes, over the limit of 1048576`.
 */
export function decodeMessage<T>(
  schema: z.ZodType<T>,
  bytes: Uint8Array | Uint8ArrayList,
  maxBytes: number,
  what: string,
  maxDepth = MAX_JSON_DEPTH,
): T {
  if (bytes.byteLength > maxBytes) {
    throw new InvalidMessageError(`${what}: ${bytes.byteLength} bytes, over the limit of ${maxBytes}`)
  }
  const raw = bytes instanceof Uint8Array ? bytes : bytes.subarray()
  // isUtf8 checks (SIMD) and toString decodes faster than a fatal TextDecoder does both
  if (!isUtf8(raw)) throw new InvalidMessageError(`${what}: not valid UTF-8`)
  // a byte order mark stays in the text (as the fatal decoder with ignoreBOM kept it): not JSON
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new InvalidMessageError(`${what}: not valid JSON`)
  }
  return parseMessage(schema, json, what, maxDepth)
}

/**
 * Validates an already-parsed JSON value against a schema, with the same checks and error messages
 * as {@link decodeMessage} (minus size and UTF-8).
 * @throws InvalidMessageError naming the offending field.
 */
export function parseMessage<T>(
  schema: z.ZodType<T>,
  json: unknown,
  what: string,
  maxDepth = MAX_JSON_DEPTH,
): T {
  const shapeError = checkJsonShape(json, maxDepth)
  if (shapeError !== undefined) throw new InvalidMessageError(`${what}: ${shapeError}`)
  // a schema with a hand-written check: what the check passes is the output, without entering zod
  if (fastCheckOf(schema)?.(json) === true) return json as T
  let result: ReturnType<typeof schema.safeParse>
  try {
    result = schema.safeParse(json)
  } catch (err) {
    throw new InvalidMessageError(`${what}: cannot validate: ${(err as Error).message}`)
  }
  if (!result.success) throw new InvalidMessageError(`${what}: ${describeIssue(result.error, json)}`)
  return result.data
}

/**
 * Renders the first issue of a zod error as `path: message` (or just the message at the root);
 * with `input` (what was parsed), the value it refused is quoted (see `issueMessage`).
 */
export function describeIssue(error: z.ZodError, input?: unknown): string {
  const issue = error.issues[0]
  if (issue === undefined) return 'invalid'
  const message = issueMessage(issue, input).replace(/^Invalid input: /, '')
  const path = formatPath(issue.path)
  return path === '' ? message : `${path}: ${message}`
}

export { checkJsonShape, formatPath } from '../task/json-shape.ts'

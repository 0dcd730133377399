import type { IncomingMessage, ServerResponse } from 'node:http'
import { errorCode } from '../node/error-code.ts'
import { MAX_FRAME_BYTES } from '../protocol/constants.ts'
import { isTaskId } from '../task/task-id.ts'
import { ApiRefusal } from './guard.ts'

/** Longest `?wait=` a result request may ask for; a longer one waits this long. */
export const MAX_HTTP_WAIT_MS = 10 * 60_000
/** Largest request body, in bytes. */
export const MAX_HTTP_BODY_BYTES = MAX_FRAME_BYTES

/** The HTTP status of each error code the API answers with. */
export const STATUS_OF: Record<string, number> = {
  ERR_INVALID_TASK: 400,
  ERR_UNKNOWN_HANDLER: 400,
  ERR_BAD_REQUEST: 400,
  ERR_NOT_FOUND: 404,
  ERR_UNKNOWN_TASK: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_BODY_TOO_LARGE: 413,
  ERR_QUEUE_FULL: 503,
  ERR_STOPPING: 503,
  ERR_OWNER_DOWN: 503,
  ERR_NODE_STOPPED: 503,
}

/** A request the API refuses; `code` picks the HTTP status, `field` names what is wrong. */
export class HttpError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message)
  }
}

/** Answers `body` as JSON with `status`. */
export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  })
  res.end(text)
}

/** Reads a JSON body of at most {@link MAX_HTTP_BODY_BYTES}. @throws HttpError saying what is wrong with it */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'])
  const tooLarge = () =>
    new HttpError('ERR_BODY_TOO_LARGE', `body is over the limit of ${MAX_HTTP_BODY_BYTES} bytes`, 'body')
  if (declared > MAX_HTTP_BODY_BYTES) throw tooLarge()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_HTTP_BODY_BYTES) throw tooLarge()
    chunks.push(chunk as Buffer)
  }
  if (size === 0) throw new HttpError('ERR_BAD_REQUEST', 'body is empty: send a task spec as JSON', 'body')
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (err) {
    throw new HttpError('ERR_BAD_REQUEST', `body is not valid JSON: ${(err as Error).message}`, 'body')
  }
}

/** Parses `?wait=<ms>`: absent or empty means no wait. */
export function parseWait(value: string | null): number {
  if (value === null || value === '') return 0
  const ms = Number(value)
  if (!Number.isInteger(ms) || ms < 0) {
    throw new HttpError(
      'ERR_BAD_REQUEST',
      `wait must be a non-negative integer of ms, got "${value}"`,
      'wait',
    )
  }
  return Math.min(ms, MAX_HTTP_WAIT_MS)
}

/** Decodes one URL path segment. @throws HttpError when it is not valid */
export function decodePart(part: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    throw new HttpError('ERR_BAD_REQUEST', `"${part}" is not a valid URL path segment`, 'id')
  }
}

/** Checks that `id` is a task id. @throws HttpError when it is not */
export function taskIdOf(id: string): string {
  if (!isTaskId(id)) {
    throw new HttpError('ERR_BAD_REQUEST', `"${id}" is not a task id (a CIDv1 such as "bafkrei…")`, 'id')
  }
  return id
}

/** `{ field }` when the error names the field that is wrong, else nothing. */
export function fieldOf(err: Error): { field?: string } {
  const field = (err as { field?: unknown }).field
  return typeof field === 'string' ? { field } : {}
}

/** The ids of a submission's tasks, and its keys when it was a graph. */
export function idsOf(handles: Array<{ id: string; key?: string }>): {
  ids: string[]
  keys?: Record<string, string>
} {
  const keyed = handles.filter((h) => h.key !== undefined)
  const ids = handles.map((h) => h.id)
  return keyed.length === 0 ? { ids } : { ids, keys: Object.fromEntries(keyed.map((h) => [h.key, h.id])) }
}

/** Answers a request that failed with `err`: its code's status and `{ error, code, field? }`. */
export function sendError(res: ServerResponse, err: Error): void {
  if (res.headersSent) return void res.destroy(err)
  const code = errorCode(err)
  const status = err instanceof ApiRefusal ? err.status : (STATUS_OF[code] ?? 500)
  const challenge = status === 401 ? { 'www-authenticate': 'Bearer realm="taskmesh"' } : undefined
  send(res, status, { error: err.message, code, ...fieldOf(err) }, challenge)
}

import type { Stream } from '@libp2p/interface'
import { decode as lpDecode } from 'it-length-prefixed'
import type { z } from 'zod'
import { decodeMessage, encodeMessage } from '../codec.ts'
import { MAX_FRAME_BYTES } from '../constants.ts'
import { InvalidMessageError, RpcTimeoutError } from '../errors.ts'
import { FrameWriter } from './frame-writer.ts'
import type { InboundBudget } from './inbound-budget.ts'
import { toRpcError } from './rpc-errors.ts'

/** A served stream that brings no complete frame for this long is closed by the server, in ms. */
export const DEFAULT_SERVER_IDLE_MS = 30_000
/** Requests one served stream may have in its handlers at once; past it, the server stops reading. */
export const DEFAULT_SERVER_IN_FLIGHT = 64

/** Options of {@link serveSession}. */
export interface ServeSessionOptions {
  /** Largest frame either way, in bytes. @defaultValue MAX_FRAME_BYTES */
  maxBytes?: number
  /** Name of the request in error messages, e.g. `steal frame`. */
  what: string
  /** Deepest nesting of a request frame. @defaultValue MAX_JSON_DEPTH */
  maxDepth?: number
  /** The stream is closed when no complete frame arrives for this long, in ms. @defaultValue DEFAULT_SERVER_IDLE_MS */
  idleMs?: number
  /** Told of every failure after the stream was aborted with it (for logs). Must not throw. */
  onError?: (err: Error) => void
  /** Requests in the handler at once; past it, no frame is read. @defaultValue DEFAULT_SERVER_IN_FLIGHT */
  maxInFlight?: number
  /**
   * The node-wide budget the bytes of unfinished frames are charged to; when it runs out, the
   * streams holding the most are aborted. @defaultValue none (each frame is bounded by `maxBytes` only)
   */
  budget?: InboundBudget
}

/**
 * Serves a session stream: reads request frames until the client closes its side, hands each to
 * `handler` at once (a slow request holds up no other; at most `maxInFlight` at a time, beyond
 * which the server stops reading), writes each reply as it comes (replies written in one turn go
 * out together), then closes once every request is answered. A client that sends one request and
 * closes is served the same way. Never throws: a malformed or oversized frame, a failing handler or
 * a write error aborts the stream with the error (an `InvalidMessageError` for bad frames) and
 * reports it to `opts.onError`; a stream that brings no complete frame for `idleMs` is closed
 * (aborted when it holds part of a frame). With a `budget`, the bytes received and not yet read as
 * complete frames are charged to it. The handler gets each request's frame too, the bytes it was
 * decoded from (a view of the stream's data: not to be kept past the handler's answer).
 */
export async function serveSession<Req, Rep>(
  stream: Stream,
  requestSchema: z.ZodType<Req>,
  handler: (req: Req, frame: Uint8Array) => Rep | Promise<Rep>,
  opts: ServeSessionOptions,
): Promise<void> {
  const maxBytes = opts.maxBytes ?? MAX_FRAME_BYTES
  const idleMs = opts.idleMs ?? DEFAULT_SERVER_IDLE_MS
  let failed = false
  const fail = (err: unknown): void => {
    if (failed) return
    failed = true
    const error = toRpcError(err, undefined, opts.what, maxBytes)
    stream.abort(error)
    try {
      opts.onError?.(error)
    } catch {
      // a logger must not take the node down
    }
  }
  const writer = new FrameWriter(stream, fail)
  // bytes received and not yet read as complete frames: charged to the budget while held
  let partial = 0
  const charge = opts.budget?.open(fail)
  const onMessage = (evt: { data: { byteLength: number } }): void => {
    partial += evt.data.byteLength
    charge?.add(evt.data.byteLength)
  }
  stream.addEventListener('message', onMessage)
  // one timer for the stream's life, pushed back at every frame
  const idle = setTimeout(() => {
    const timeout = new RpcTimeoutError(`${opts.what}: no complete frame for ${idleMs} ms`)
    // a stream stuck in the middle of a frame is cut off; an idle one is closed politely
    if (partial > 0) fail(timeout)
    else stream.close().catch(() => stream.abort(timeout))
  }, idleMs)
  idle.unref()
  const maxInFlight = opts.maxInFlight ?? DEFAULT_SERVER_IN_FLIGHT
  let inFlight = 0
  let freed: (() => void) | undefined
  const settled = (): Promise<void> =>
    new Promise<void>((resolve) => {
      freed = resolve
    })
  const answer = async (request: Req, raw: Uint8Array): Promise<void> => {
    try {
      const reply = encodeMessage(await handler(request, raw))
      if (reply.byteLength > maxBytes) {
        throw new InvalidMessageError(
          `${opts.what} reply: ${reply.byteLength} bytes, over the limit of ${maxBytes}`,
        )
      }
      if (!failed) writer.write(reply)
    } catch (err) {
      fail(err)
    } finally {
      inFlight--
      const wake = freed
      freed = undefined
      wake?.()
    }
  }
  try {
    for await (const frame of lpDecode(stream, { maxDataLength: maxBytes })) {
      idle.refresh()
      const used = frame.byteLength + varintLength(frame.byteLength)
      partial = Math.max(0, partial - used)
      charge?.settle(used)
      const raw = frame instanceof Uint8Array ? frame : frame.subarray()
      const request = decodeMessage(requestSchema, raw, maxBytes, opts.what, opts.maxDepth)
      inFlight++
      void answer(request, raw)
      while (inFlight >= maxInFlight && !failed) await settled()
      if (failed) return
    }
    clearTimeout(idle)
    // the client closed its side: answer what is in flight, hand over the last replies, close ours
    while (inFlight > 0 && !failed) await settled()
    await writer.settled()
    if (!failed && stream.status === 'open') await stream.close()
  } catch (err) {
    clearTimeout(idle)
    fail(err)
  } finally {
    stream.removeEventListener('message', onMessage)
    charge?.release()
  }
}

/** Bytes of the unsigned varint that prefixes a frame of `length` bytes. */
function varintLength(length: number): number {
  let bytes = 1
  for (let v = length; v >= 0x80; v = Math.floor(v / 0x80)) bytes++
  return bytes
}

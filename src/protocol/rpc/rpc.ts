import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { decode as lpDecode, encode as lpEncode } from 'it-length-prefixed'
import type { z } from 'zod'
import { decodeMessage, encodeMessage } from '../codec.ts'
import { DEFAULT_RPC_TIMEOUT_MS, MAX_FRAME_BYTES } from '../constants.ts'
import { InvalidMessageError, RpcAbortedError } from '../errors.ts'
import type { InboundBudget } from './inbound-budget.ts'
import { toRpcError } from './rpc-errors.ts'
import { deadline } from './signals.ts'

export { toRpcError } from './rpc-errors.ts'

/** Room for a frame's varint length prefix in the read buffer, in bytes. */
const LENGTH_PREFIX_BYTES = 10

/** Bytes of the unsigned varint (LEB128) of `n`: 7 bits each. */
function varintLength(n: number): number {
  let bytes = 1
  for (let rest = n; rest >= 0x80; rest = Math.floor(rest / 0x80)) bytes++
  return bytes
}

/** Options of {@link requestOnce} and {@link requestMany}. */
export interface RequestOptions {
  /** Ends the exchange. @defaultValue `AbortSignal.timeout(DEFAULT_RPC_TIMEOUT_MS)` for `requestOnce`, none for `requestMany` */
  signal?: AbortSignal
  /** Largest frame either way, in bytes. @defaultValue MAX_FRAME_BYTES */
  maxBytes?: number
  /** Name of the reply in error messages. @defaultValue 'reply' */
  what?: string
}

/** Options of {@link serveFrames}. */
export interface ServeOptions {
  /** Largest frame either way, in bytes. @defaultValue MAX_FRAME_BYTES */
  maxBytes?: number
  /** Ends the exchange (the handler's sends included); the request read also times out after `readTimeoutMs`. */
  signal?: AbortSignal
  /**
   * The whole request frame must arrive within this long of the stream opening (a stream that
   * sends nothing, or not all of its frame, is aborted then). @defaultValue DEFAULT_RPC_TIMEOUT_MS
   */
  readTimeoutMs?: number
  /**
   * The node-wide budget the bytes of unfinished requests are charged to; when it runs out, the
   * streams holding the most are aborted. @defaultValue none (each stream is bounded by `maxBytes` only)
   */
  budget?: InboundBudget
  /** Name of the request in error messages, e.g. `steal frame`. */
  what: string
  /** Told of every failure after the stream was aborted with it (for logs). Must not throw. */
  onError?: (err: Error) => void
}

function encodeFrame(value: unknown, maxBytes: number, what: string): Uint8Array {
  const bytes = encodeMessage(value)
  if (bytes.byteLength > maxBytes) {
    throw new InvalidMessageError(`${what}: ${bytes.byteLength} bytes, over the limit of ${maxBytes}`)
  }
  return bytes
}

function framed(stream: Stream, maxBytes: number) {
  return lpStream(stream, { maxDataLength: maxBytes, maxBufferSize: maxBytes + LENGTH_PREFIX_BYTES })
}

/**
 * Sends one request frame and reads one reply frame on a fresh stream, then closes the stream.
 * On any error the stream is aborted with it.
 * @throws InvalidMessageError (bad or oversized reply, or request too big to send), RpcTimeoutError,
 *   RpcAbortedError, RpcClosedError (the remote closed or reset the stream first).
 */
export async function requestOnce<Res>(
  stream: Stream,
  request: unknown,
  replySchema: z.ZodType<Res>,
  opts: RequestOptions = {},
): Promise<Res> {
  const signal = opts.signal ?? AbortSignal.timeout(DEFAULT_RPC_TIMEOUT_MS)
  const maxBytes = opts.maxBytes ?? MAX_FRAME_BYTES
  const what = opts.what ?? 'reply'
  try {
    signal.throwIfAborted()
    const frame = encodeFrame(request, maxBytes, 'request')
    const lp = framed(stream, maxBytes)
    await lp.write(frame, { signal })
    await stream.close({ signal })
    const reply = decodeMessage(replySchema, await lp.read({ signal }), maxBytes, what)
    return reply
  } catch (err) {
    const error = toRpcError(err, signal, what, maxBytes)
    stream.abort(error)
    throw error
  }
}

/**
 * Sends one request frame and yields every reply frame until the remote closes the stream (the
 * `watch` pattern). Breaking out of the loop early aborts the stream.
 * @throws the same errors as {@link requestOnce}.
 */
export async function* requestMany<Res>(
  stream: Stream,
  request: unknown,
  replySchema: z.ZodType<Res>,
  opts: RequestOptions = {},
): AsyncGenerator<Res, void, undefined> {
  const { signal } = opts
  const maxBytes = opts.maxBytes ?? MAX_FRAME_BYTES
  const what = opts.what ?? 'reply'
  const onAbort = (): void => stream.abort(new RpcAbortedError(`${what}: aborted`))
  signal?.addEventListener('abort', onAbort, { once: true })
  let finished = false
  try {
    signal?.throwIfAborted()
    if (!stream.send(lpEncode.single(encodeFrame(request, maxBytes, 'request'))))
      await stream.onDrain({ signal })
    await stream.close({ signal })
    for await (const frame of lpDecode(stream, { maxDataLength: maxBytes })) {
      yield decodeMessage(replySchema, frame, maxBytes, what)
    }
    finished = true
  } catch (err) {
    finished = true
    const error = toRpcError(err, signal, what, maxBytes)
    stream.abort(error)
    throw error
  } finally {
    signal?.removeEventListener('abort', onAbort)
    if (!finished) stream.abort(new RpcAbortedError(`${what}: the caller stopped reading`))
  }
}

/**
 * Serves one exchange on an inbound stream: reads ONE request frame, validates it, calls `handler`
 * (which may `send` one reply or several), then closes the stream. Never throws: a malformed or
 * oversized request, a read timeout (`readTimeoutMs`), data after the request frame, eviction by the
 * inbound `budget`, a failing handler or send aborts the stream with the error (an
 * `InvalidMessageError` for bad frames) and reports it to `opts.onError`, so the node keeps running.
 */
export async function serveFrames<Req, Rep = unknown>(
  stream: Stream,
  requestSchema: z.ZodType<Req>,
  handler: (req: Req, send: (reply: Rep) => Promise<void>) => Promise<void>,
  opts: ServeOptions,
): Promise<void> {
  const maxBytes = opts.maxBytes ?? MAX_FRAME_BYTES
  const { what, signal } = opts
  let failed = false
  const fail = (err: unknown, failedSignal: AbortSignal | undefined): void => {
    if (failed) return
    failed = true
    const error = toRpcError(err, failedSignal, what, maxBytes)
    stream.abort(error)
    try {
      opts.onError?.(error)
    } catch {
      // a logger must not take the node down
    }
  }
  // every byte received is charged to the budget until the request frame is complete; a requester
  // sends one frame and half-closes, so bytes after the frame are a protocol violation
  const charge = opts.budget?.open((err) => fail(err, undefined))
  let requestRead = false
  /** Bytes received before the request frame was read: the frame's, and any that came with it. */
  let received = 0
  const afterFrame = () => fail(new InvalidMessageError(`${what}: data after the request frame`), undefined)
  const onMessage = (evt: { data: { byteLength: number } }): void => {
    if (requestRead) {
      afterFrame()
      return
    }
    received += evt.data.byteLength
    charge?.add(evt.data.byteLength)
  }
  stream.addEventListener('message', onMessage)
  try {
    const read = deadline(opts.readTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS, signal)
    const lp = framed(stream, maxBytes)
    let request: Req
    try {
      const frame = await lp.read({ signal: read.signal })
      requestRead = true
      // bytes that came in the same chunk as the frame's end are past it too
      if (received > varintLength(frame.byteLength) + frame.byteLength) {
        afterFrame()
        return
      }
      request = decodeMessage(requestSchema, frame, maxBytes, what)
      charge?.release() // the frame is complete: its bytes are the handler's now
    } catch (err) {
      fail(err, read.signal)
      return
    } finally {
      read.clear() // the read settled: no timer or listener outlives it
    }
    const send = async (reply: Rep): Promise<void> => {
      await lp.write(encodeFrame(reply, maxBytes, `${what} reply`), { signal })
    }
    try {
      await handler(request, send)
      if (!failed) await stream.close({ signal })
    } catch (err) {
      fail(err, signal)
    }
  } finally {
    stream.removeEventListener('message', onMessage)
    charge?.release()
  }
}

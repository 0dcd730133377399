import type { Stream } from '@libp2p/interface'
import { decode as lpDecode } from 'it-length-prefixed'
import type { z } from 'zod'
import { decodeMessage, encodeMessage } from '../codec.ts'
import { DEFAULT_RPC_TIMEOUT_MS, MAX_FRAME_BYTES } from '../constants.ts'
import { InvalidMessageError, RpcClosedError } from '../errors.ts'
import { FrameWriter } from './frame-writer.ts'
import { toRpcError } from './rpc-errors.ts'

// the server side of a session stream lives in session-server.ts; both sides are found here
export {
  DEFAULT_SERVER_IDLE_MS,
  DEFAULT_SERVER_IN_FLIGHT,
  type ServeSessionOptions,
  serveSession,
} from './session-server.ts'

/** A session stream with no request in flight is closed by its client after this long, in ms. */
export const DEFAULT_CLIENT_IDLE_MS = 5_000

/** A request or reply frame: every one carries the id that pairs them. */
export interface Framed {
  requestId: string
}

/** Options of {@link RpcSession}. */
export interface RpcSessionOptions<Res> {
  /** Opens a fresh stream to the peer (e.g. `libp2p.dialProtocol`). */
  open(signal: AbortSignal): Promise<Stream>
  /** Schema of the reply frames. */
  replySchema: z.ZodType<Res>
  /** Largest frame either way, in bytes. @defaultValue MAX_FRAME_BYTES */
  maxBytes?: number
  /** Name of the reply in error messages. @defaultValue 'reply' */
  what?: string
  /** The stream is closed after this long with no request in flight, in ms. @defaultValue DEFAULT_CLIENT_IDLE_MS */
  idleMs?: number
}

interface Pending<Res> {
  resolve(reply: Res): void
  reject(err: Error): void
}

interface Open<Res> {
  stream: Stream
  writer: FrameWriter
  pending: Map<string, Pending<Res>>
}

/**
 * The client side of a session stream: one long-lived stream to one peer carries many requests,
 * each answered by a reply frame with the same `requestId` (in any order). Requests are written as
 * they come, coalesced per event-loop turn; a request whose signal fires is rejected on its own
 * (a reply that comes later is dropped). When the stream ends, fails or sends a bad frame, every
 * request on it is rejected and the next request opens a fresh stream; an idle stream is closed.
 */
export class RpcSession<Res extends Framed> {
  private current: Open<Res> | undefined
  private opening: Promise<Open<Res>> | undefined
  private idleTimer: NodeJS.Timeout | undefined
  private closed = false
  private readonly maxBytes: number
  private readonly what: string

  constructor(private readonly opts: RpcSessionOptions<Res>) {
    this.maxBytes = opts.maxBytes ?? MAX_FRAME_BYTES
    this.what = opts.what ?? 'reply'
  }

  /** Requests in flight. */
  get inFlight(): number {
    return this.current?.pending.size ?? 0
  }

  /**
   * Sends one request and resolves with its reply. With `retry`, a request whose stream ended
   * before its reply came (say, the peer had dropped an idle stream) is sent once more on a fresh
   * stream — for requests that are safe to repeat.
   * With `encoded`, the request's frame as the caller wrote it (its `requestId` must be the
   * request's): sent as it is.
   * @throws InvalidMessageError (a bad or oversized frame either way), RpcTimeoutError /
   *   RpcAbortedError (the signal fired), RpcClosedError (the stream ended first).
   */
  async request(
    request: Framed & Record<string, unknown>,
    signal: AbortSignal = AbortSignal.timeout(DEFAULT_RPC_TIMEOUT_MS),
    opts: { retry?: boolean; encoded?: Uint8Array } = {},
  ): Promise<Res> {
    const bytes = opts.encoded ?? encodeMessage(request)
    try {
      return await this.requestOnce(request, bytes, signal)
    } catch (err) {
      if (opts.retry !== true || !(err instanceof RpcClosedError) || this.closed || signal.aborted) throw err
      return this.requestOnce(request, bytes, signal)
    }
  }

  private async requestOnce(request: Framed, bytes: Uint8Array, signal: AbortSignal): Promise<Res> {
    if (this.closed) throw new RpcClosedError(`${this.what}: session closed`)
    signal.throwIfAborted()
    if (bytes.byteLength > this.maxBytes) {
      throw new InvalidMessageError(`request: ${bytes.byteLength} bytes, over the limit of ${this.maxBytes}`)
    }
    let open: Open<Res>
    try {
      open = await this.ensureOpen(signal)
    } catch (err) {
      throw toRpcError(err, signal, this.what, this.maxBytes)
    }
    if (open.pending.has(request.requestId)) {
      throw new InvalidMessageError(`request: id ${request.requestId} is in flight already`)
    }
    clearTimeout(this.idleTimer)
    return new Promise<Res>((resolve, reject) => {
      const onAbort = (): void => {
        open.pending.delete(request.requestId)
        this.armIdle(open)
        reject(toRpcError(signal.reason, signal, this.what, this.maxBytes))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      open.pending.set(request.requestId, {
        resolve: (reply) => {
          signal.removeEventListener('abort', onAbort)
          resolve(reply)
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort)
          reject(err)
        },
      })
      open.writer.write(bytes)
    })
  }

  /** Rejects what is in flight and closes the stream. Safe to call twice. */
  close(): void {
    this.closed = true
    clearTimeout(this.idleTimer)
    if (this.current !== undefined) this.end(this.current, new RpcClosedError(`${this.what}: session closed`))
  }

  private ensureOpen(signal: AbortSignal): Promise<Open<Res>> {
    if (this.current !== undefined) return Promise.resolve(this.current)
    this.opening ??= this.opts.open(signal).then(
      (stream) => {
        this.opening = undefined
        const open: Open<Res> = {
          stream,
          pending: new Map(),
          writer: new FrameWriter(stream, (err) =>
            this.end(open, toRpcError(err, undefined, this.what, this.maxBytes)),
          ),
        }
        if (this.closed) {
          stream.abort(new RpcClosedError(`${this.what}: session closed`))
          throw new RpcClosedError(`${this.what}: session closed`)
        }
        this.current = open
        void this.read(open)
        return open
      },
      (err: unknown) => {
        this.opening = undefined
        throw err
      },
    )
    return this.opening
  }

  private async read(open: Open<Res>): Promise<void> {
    try {
      for await (const frame of lpDecode(open.stream, { maxDataLength: this.maxBytes })) {
        const reply = decodeMessage(this.opts.replySchema, frame, this.maxBytes, this.what)
        const pending = open.pending.get(reply.requestId)
        if (pending === undefined) continue // its request gave up waiting
        open.pending.delete(reply.requestId)
        pending.resolve(reply)
        this.armIdle(open)
      }
      this.end(open, new RpcClosedError(`${this.what}: the peer closed the stream`))
    } catch (err) {
      this.end(open, toRpcError(err, undefined, this.what, this.maxBytes))
    }
  }

  /** Closes the stream once nothing is in flight for `idleMs`. */
  private armIdle(open: Open<Res>): void {
    if (open.pending.size > 0 || this.current !== open) return
    clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => {
      if (open.pending.size === 0 && this.current === open) {
        this.end(open, new RpcClosedError(`${this.what}: idle`))
      }
    }, this.opts.idleMs ?? DEFAULT_CLIENT_IDLE_MS)
    this.idleTimer.unref()
  }

  /** Forgets the stream, rejects what was in flight on it and closes (or, after an error, aborts) it. */
  private end(open: Open<Res>, err: Error): void {
    if (this.current === open) this.current = undefined
    const pending = [...open.pending.values()]
    open.pending.clear()
    for (const p of pending) p.reject(err)
    if (open.stream.status !== 'open') return
    if (err instanceof RpcClosedError) {
      open.stream.close().catch((closeErr: Error) => open.stream.abort(closeErr))
    } else {
      open.stream.abort(err)
    }
  }
}

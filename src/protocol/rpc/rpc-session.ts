import type { Stream } from '@libp2p/interface'
import { decode as lpDecode } from 'it-length-prefixed'
import type { z } from 'zod'
import { decodeMessage, encodeMessage } from '../codec.ts'
import { DEFAULT_RPC_TIMEOUT_MS, MAX_FRAME_BYTES } from '../constants.ts'
import { InvalidMessageError, RpcClosedError, RpcTimeoutError } from '../errors.ts'
import { FrameWriter } from './frame-writer.ts'
import { toRpcError } from './rpc-errors.ts'
import { deadline as withinMs } from './signals.ts'

/** Longest delay a timer takes, ms (about 24.8 days): a dial with no deadline of its own. */
const MAX_TIMER_MS = 2 ** 31 - 1

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
  /**
   * A long-lived signal (say, the service's stop) that aborts opening a stream; requests in flight
   * end when the session is closed (a request's own signal is for that request).
   */
  signal?: AbortSignal
}

/** How one request is sent (see {@link RpcSession.request}). */
export interface RequestOptions {
  /**
   * The request fails with `RpcTimeoutError` when no reply came this long after it was made, ms.
   * @defaultValue DEFAULT_RPC_TIMEOUT_MS when no signal is given; none beside a signal
   */
  timeoutMs?: number
  /** A request whose stream ended before its reply came is sent once more on a fresh stream. */
  retry?: boolean
  /** The request's frame as the caller wrote it (its `requestId` must be the request's): sent as it is. */
  encoded?: Uint8Array
}

interface Pending<Res> {
  resolve(reply: Res): void
  reject(err: Error): void
  /** When the request gives up (`performance.now()` time), Infinity for never. */
  deadline: number
}

interface Open<Res> {
  stream: Stream
  writer: FrameWriter
  pending: Map<string, Pending<Res>>
  /** Closes the stream once nothing was in flight for `idleMs` (re-armed, never re-made). */
  idle?: NodeJS.Timeout
}

/**
 * The client side of a session stream: one long-lived stream to one peer carries many requests,
 * each answered by a reply frame with the same `requestId` (in any order). Requests are written as
 * they come, coalesced per event-loop turn; one past its deadline (one timer per session, due at
 * the earliest: no timer or signal per request) or whose signal fires is rejected alone (a later
 * reply is dropped). When the stream ends, fails or sends a bad frame, every request on it is
 * rejected and the next request opens a fresh stream; an idle stream is closed.
 */
export class RpcSession<Res extends Framed> {
  private current: Open<Res> | undefined
  private opening: Promise<Open<Res>> | undefined
  private closed = false
  /** The timer that rejects requests past their deadline, and when it is due. */
  private sweepTimer: NodeJS.Timeout | undefined
  private sweepAt = Number.POSITIVE_INFINITY
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
   * Sends one request and resolves with its reply, or rejects once `opts.timeoutMs` have passed
   * (by default {@link DEFAULT_RPC_TIMEOUT_MS} when no `signal` is given) or the signal fires. With
   * `retry`, a request whose stream ended before its reply came (say, the peer had dropped an idle
   * stream) is sent once more on a fresh stream, within the same deadline — for requests that are
   * safe to repeat.
   * @throws InvalidMessageError (a bad or oversized frame either way), RpcTimeoutError (the
   *   deadline passed, or the signal fired with a `TimeoutError`), RpcAbortedError (the signal
   *   fired), RpcClosedError (the stream ended first).
   */
  async request(
    request: Framed & Record<string, unknown>,
    signal?: AbortSignal,
    opts: RequestOptions = {},
  ): Promise<Res> {
    const timeoutMs = opts.timeoutMs ?? (signal === undefined ? DEFAULT_RPC_TIMEOUT_MS : undefined)
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs
    const bytes = opts.encoded ?? encodeMessage(request)
    try {
      return await this.requestOnce(request, bytes, signal, deadline)
    } catch (err) {
      if (opts.retry !== true || !(err instanceof RpcClosedError) || this.closed) throw err
      if (signal?.aborted === true || performance.now() >= deadline) throw err
      return this.requestOnce(request, bytes, signal, deadline)
    }
  }

  private async requestOnce(
    request: Framed,
    bytes: Uint8Array,
    signal: AbortSignal | undefined,
    deadline: number,
  ): Promise<Res> {
    if (this.closed) throw new RpcClosedError(`${this.what}: session closed`)
    signal?.throwIfAborted()
    if (bytes.byteLength > this.maxBytes) {
      throw new InvalidMessageError(`request: ${bytes.byteLength} bytes, over the limit of ${this.maxBytes}`)
    }
    const open = this.current ?? (await this.openWithin(signal, deadline))
    if (open.pending.has(request.requestId)) {
      throw new InvalidMessageError(`request: id ${request.requestId} is in flight already`)
    }
    return new Promise<Res>((resolve, reject) => {
      const id = request.requestId
      if (signal === undefined) open.pending.set(id, { resolve, reject, deadline })
      else {
        const onAbort = (): void => {
          open.pending.delete(id)
          this.armIdle(open)
          reject(toRpcError(signal.reason, signal, this.what, this.maxBytes))
        }
        signal.addEventListener('abort', onAbort, { once: true })
        open.pending.set(id, {
          resolve: (reply) => {
            signal.removeEventListener('abort', onAbort)
            resolve(reply)
          },
          reject: (err) => {
            signal.removeEventListener('abort', onAbort)
            reject(err)
          },
          deadline,
        })
      }
      this.sweepBy(deadline)
      open.writer.write(bytes)
    })
  }

  /** Opens a stream for a request: within its deadline (none: its signal), its signal and the session's. */
  private async openWithin(signal: AbortSignal | undefined, deadline: number): Promise<Open<Res>> {
    const ms = Number.isFinite(deadline) ? Math.max(0, deadline - performance.now()) : MAX_TIMER_MS
    const dial = withinMs(ms, signal, this.opts.signal)
    try {
      return await this.ensureOpen(dial.signal)
    } catch (err) {
      throw toRpcError(err, dial.signal, this.what, this.maxBytes)
    } finally {
      dial.clear()
    }
  }

  /** Makes sure the deadline timer is due no later than `deadline`. */
  private sweepBy(deadline: number): void {
    if (deadline >= this.sweepAt) return // Infinity too: sweepAt is never above it
    clearTimeout(this.sweepTimer)
    this.sweepAt = deadline
    // +1: a timer may fire a fraction of a millisecond early by performance.now()
    this.sweepTimer = setTimeout(() => this.sweep(), Math.max(0, deadline - performance.now()) + 1)
    this.sweepTimer.unref()
  }

  /** Rejects the requests past their deadline and sets the timer for the next one. */
  private sweep(): void {
    this.sweepTimer = undefined
    this.sweepAt = Number.POSITIVE_INFINITY
    const open = this.current
    if (open === undefined) return
    const now = performance.now()
    let next = Number.POSITIVE_INFINITY
    let expired = false
    for (const [id, p] of open.pending) {
      if (p.deadline > now) next = Math.min(next, p.deadline)
      else {
        open.pending.delete(id)
        expired = true
        p.reject(new RpcTimeoutError(`${this.what}: deadline passed`))
      }
    }
    if (expired) this.armIdle(open)
    this.sweepBy(next)
  }

  /** Rejects what is in flight and closes the stream. Safe to call twice. */
  close(): void {
    this.closed = true
    clearTimeout(this.sweepTimer) // a closed session takes no request: the timer is not set again
    if (this.current !== undefined) this.end(this.current, new RpcClosedError(`${this.what}: session closed`))
  }

  private ensureOpen(signal: AbortSignal): Promise<Open<Res>> {
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
        if (open.pending.size === 0) this.armIdle(open)
      }
      this.end(open, new RpcClosedError(`${this.what}: the peer closed the stream`))
    } catch (err) {
      this.end(open, toRpcError(err, undefined, this.what, this.maxBytes))
    }
  }

  /**
   * Closes the stream once nothing is in flight for `idleMs`: the stream's one timer, re-armed
   * when its last request is answered (a timer that fires while requests are in flight does nothing).
   */
  private armIdle(open: Open<Res>): void {
    if (open.pending.size > 0 || this.current !== open) return
    if (open.idle !== undefined) {
      open.idle.refresh()
      return
    }
    open.idle = setTimeout(() => {
      if (open.pending.size === 0 && this.current === open) {
        this.end(open, new RpcClosedError(`${this.what}: idle`))
      }
    }, this.opts.idleMs ?? DEFAULT_CLIENT_IDLE_MS)
    open.idle.unref()
  }

  /** Forgets the stream, rejects what was in flight on it and closes (or, after an error, aborts) it. */
  private end(open: Open<Res>, err: Error): void {
    if (this.current === open) this.current = undefined
    clearTimeout(open.idle)
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

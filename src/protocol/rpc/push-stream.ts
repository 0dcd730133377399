import type { Stream } from '@libp2p/interface'
import { decode as lpDecode } from 'it-length-prefixed'
import type { z } from 'zod'
import { decodeMessage } from '../codec.ts'
import { RpcTimeoutError } from '../errors.ts'
import { FrameWriter } from './frame-writer.ts'
import { toRpcError } from './rpc-errors.ts'

/** A pushed stream that brings no frame for this long is closed by its reader, in ms. */
export const DEFAULT_PUSH_IDLE_MS = 30_000

/** Options of {@link PushStream}. */
export interface PushStreamOptions {
  /** Opens a fresh stream to the peer (e.g. `libp2p.dialProtocol`). */
  open(signal: AbortSignal): Promise<Stream>
  /** Deadline of opening the stream, in ms. */
  openTimeoutMs: number
}

/**
 * One long-lived stream to one peer that carries frames one way, none answered — for news that
 * the next frame makes stale (capacity beacons). A frame pushed while the stream is being opened,
 * or while its buffer is full, is dropped: the next one says the same, newer. A failed stream is
 * forgotten and the next push opens a fresh one.
 */
export class PushStream {
  private stream: Stream | undefined
  private writer: FrameWriter | undefined
  private opening = false
  private closed = false

  constructor(private readonly opts: PushStreamOptions) {}

  /** Sends one encoded frame, or drops it (see the class). Never throws. */
  push(frame: Uint8Array): void {
    if (this.closed) return
    if (this.writer !== undefined) {
      if (!this.writer.blocked) this.writer.write(frame)
      return
    }
    if (this.opening) return
    this.opening = true
    this.opts.open(AbortSignal.timeout(this.opts.openTimeoutMs)).then(
      (stream) => {
        this.opening = false
        if (this.closed) {
          stream.abort(new Error('push stream closed'))
          return
        }
        this.stream = stream
        this.writer = new FrameWriter(stream, (err) => this.drop(stream, err))
        this.writer.write(frame)
      },
      () => {
        this.opening = false
      },
    )
  }

  /** Closes the stream. Safe to call twice. */
  close(): void {
    this.closed = true
    const stream = this.stream
    this.stream = undefined
    this.writer = undefined
    stream?.close().catch((err: Error) => stream.abort(err))
  }

  private drop(stream: Stream, err: Error): void {
    if (this.stream !== stream) return
    this.stream = undefined
    this.writer = undefined
    if (stream.status === 'open') stream.abort(err)
  }
}

/** Options of {@link servePushStream}. */
export interface ServePushOptions {
  /** Largest frame, in bytes. */
  maxBytes: number
  /** Name of a frame in error messages, e.g. `beacon`. */
  what: string
  /** The stream is closed when no frame arrives for this long, in ms. @defaultValue DEFAULT_PUSH_IDLE_MS */
  idleMs?: number
  /** Told of the error a bad frame aborted the stream with (for logs and counters). Must not throw. */
  onError?: (err: Error) => void
}

/**
 * Reads a pushed stream until the peer closes it: every frame is checked against `schema` and
 * handed to `onFrame`. A malformed or oversized frame aborts the stream (`InvalidMessageError`);
 * a stream silent for `idleMs` is closed. Never throws.
 */
export async function servePushStream<T>(
  stream: Stream,
  schema: z.ZodType<T>,
  onFrame: (message: T) => void,
  opts: ServePushOptions,
): Promise<void> {
  const idleMs = opts.idleMs ?? DEFAULT_PUSH_IDLE_MS
  let idle: NodeJS.Timeout | undefined
  const armIdle = (): void => {
    clearTimeout(idle)
    idle = setTimeout(() => {
      stream.abort(new RpcTimeoutError(`${opts.what}: no frame for ${idleMs} ms`))
    }, idleMs)
    idle.unref()
  }
  armIdle()
  try {
    for await (const frame of lpDecode(stream, { maxDataLength: opts.maxBytes })) {
      armIdle()
      onFrame(decodeMessage(schema, frame, opts.maxBytes, opts.what))
    }
    if (stream.status === 'open') await stream.close()
  } catch (err) {
    const error = toRpcError(err, undefined, opts.what, opts.maxBytes)
    stream.abort(error)
    try {
      opts.onError?.(error)
    } catch {
      // a logger must not take the node down
    }
  } finally {
    clearTimeout(idle)
  }
}

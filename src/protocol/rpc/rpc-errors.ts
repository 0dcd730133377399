import { InvalidMessageError, RpcAbortedError, RpcClosedError, RpcTimeoutError } from '../errors.ts'

/** Errors of the length-prefix decoders (@libp2p/utils, it-length-prefixed): a bad or too-long frame. */
const FRAME_LENGTH_ERRORS = new Set([
  'InvalidDataLengthError',
  'InvalidDataLengthLengthError',
  'InvalidMessageLengthError',
  'StreamBufferError',
])

/** Errors meaning the stream ended, was reset or was aborted under us. */
const STREAM_ENDED_ERRORS = new Set([
  'UnexpectedEOFError',
  'StreamResetError',
  'StreamAbortedError',
  'StreamClosedError',
  'StreamStateError',
  'ConnectionClosedError',
  'ConnectionClosingError',
  'MuxerClosedError',
  'AbortError',
])

/**
 * Maps whatever a framed exchange threw to one of the protocol's named errors:
 * - the signal fired → `RpcTimeoutError` (a `TimeoutError` reason) or `RpcAbortedError`;
 * - a bad or oversized length prefix → `InvalidMessageError`;
 * - EOF, reset or abort of the stream → `RpcClosedError`;
 * - anything else (including `InvalidMessageError`) is returned as it is.
 * @param what - the frame's name, first in the message (`steal frame`, `steal reply`).
 */
export function toRpcError(
  err: unknown,
  signal: AbortSignal | undefined,
  what: string,
  maxBytes: number,
): Error {
  if (signal?.aborted === true) {
    const reason = signal.reason as { name?: string } | undefined
    if (reason?.name === 'TimeoutError')
      return new RpcTimeoutError(`${what}: deadline passed`, { cause: err })
    return new RpcAbortedError(`${what}: aborted`, { cause: err })
  }
  if (!(err instanceof Error)) return new Error(`${what}: ${String(err)}`)
  if (FRAME_LENGTH_ERRORS.has(err.name)) {
    return new InvalidMessageError(
      `${what}: over the limit of ${maxBytes} bytes or bad length prefix (${err.message})`,
      {
        cause: err,
      },
    )
  }
  if (STREAM_ENDED_ERRORS.has(err.name)) {
    return new RpcClosedError(`${what}: stream ended before a complete frame (${err.message})`, {
      cause: err,
    })
  }
  return err
}

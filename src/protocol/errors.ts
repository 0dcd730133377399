/**
 * A wire message (gossip payload or stream frame) was refused: oversized, not UTF-8 JSON, or not
 * the expected shape. The message names what was wrong and where, e.g. `beacon: slots: expected
 * number, received string`.
 */
export class InvalidMessageError extends Error {
  override readonly name = 'InvalidMessageError'
  readonly code = 'ERR_INVALID_MESSAGE'
}

/**
 * A signed result record was refused: oversized, malformed, under the wrong key, naming an executor
 * whose key cannot be recovered, or carrying a signature that does not verify.
 */
export class InvalidRecordError extends Error {
  override readonly name = 'InvalidRecordError'
  readonly code = 'ERR_INVALID_RECORD'
}

/** No reply came before the request's deadline; the stream was aborted. */
export class RpcTimeoutError extends Error {
  override readonly name = 'RpcTimeoutError'
  readonly code = 'ERR_RPC_TIMEOUT'
}

/** The caller aborted a request (its signal fired for a reason other than a timeout). */
export class RpcAbortedError extends Error {
  override readonly name = 'RpcAbortedError'
  readonly code = 'ERR_RPC_ABORTED'
}

/** The remote end closed or reset the stream before a complete reply frame arrived. */
export class RpcClosedError extends Error {
  override readonly name = 'RpcClosedError'
  readonly code = 'ERR_RPC_CLOSED'
}

/**
 * An inbound stream was aborted to keep the node's unfinished inbound requests within its memory
 * budget (see `InboundBudget`): it held the most bytes when the budget ran out.
 */
export class InboundBudgetError extends Error {
  override readonly name = 'InboundBudgetError'
  readonly code = 'ERR_INBOUND_BUDGET'
}

/** A node refused a request with an error reply; `code` is its error code (e.g. `ERR_INVALID_TASK`). */
export class RemoteError extends Error {
  override readonly name = 'RemoteError'
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/**
 * Errors of the executor layer. Each failure has its own class and `code`, so callers can tell
 * them apart without parsing messages. `UnrecoverableError` lives in `handler.ts` beside the
 * handler API, and unknown types reuse `UnknownHandlerError` from `src/task/errors.ts`.
 */

/** An operator handler module could not be loaded or exports something other than handlers. */
export class HandlerModuleError extends Error {
  override readonly name = 'HandlerModuleError'
  readonly code = 'ERR_HANDLER_MODULE'
  constructor(
    /** The module's file path or URL, as given. */
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${file}: ${message}`, options)
  }
}

/** A handler type is registered twice (also across modules and built-ins). */
export class DuplicateHandlerError extends Error {
  override readonly name = 'DuplicateHandlerError'
  readonly code = 'ERR_DUPLICATE_HANDLER'
  constructor(readonly type: string) {
    super(`handler type "${type}" is already registered`)
  }
}

/** A handler type or definition is malformed (bad name, missing `run`, unknown mode). */
export class InvalidHandlerError extends Error {
  override readonly name = 'InvalidHandlerError'
  readonly code = 'ERR_INVALID_HANDLER'
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(`handler "${type}": ${message}`)
  }
}

/** A handler returned something that is not JSON (a function, a cycle, NaN…) or is too large. */
export class InvalidOutputError extends Error {
  override readonly name = 'InvalidOutputError'
  readonly code = 'ERR_INVALID_OUTPUT'
}

/** An attempt ran longer than its `timeoutMs`. Used as the abort reason handlers see. */
export class HandlerTimeoutError extends Error {
  override readonly name = 'HandlerTimeoutError'
  readonly code = 'ERR_HANDLER_TIMEOUT'
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`)
  }
}

/** The node cancelled an attempt through its signal. Used as the abort reason handlers see. */
export class TaskCancelledError extends Error {
  override readonly name = 'TaskCancelledError'
  readonly code = 'ERR_TASK_CANCELLED'
  constructor(reason?: unknown) {
    super(reasonText(reason))
  }
}

/** A worker-mode handler threw inside a worker thread; `message` is the handler's error, rendered. */
export class WorkerHandlerError extends Error {
  override readonly name = 'WorkerHandlerError'
  readonly code = 'ERR_WORKER_HANDLER'
  constructor(
    message: string,
    /** Retrying cannot help (see `isFinalError`). */
    readonly unrecoverable: boolean,
    /** The top of the handler's stack trace, from inside the worker. */
    readonly handlerStack?: string,
  ) {
    super(message)
  }
}

/** A job was submitted to (or still waiting in) a worker pool that has been closed. */
export class WorkerPoolClosedError extends Error {
  override readonly name = 'WorkerPoolClosedError'
  readonly code = 'ERR_WORKER_POOL_CLOSED'
  constructor() {
    super('worker pool is closed')
  }
}

/** An executor was given a pool whose workers do not load every module its registry loaded. */
export class PoolModulesMismatchError extends Error {
  override readonly name = 'PoolModulesMismatchError'
  readonly code = 'ERR_POOL_MODULES_MISMATCH'
  constructor(readonly missing: string[]) {
    super(`the worker pool does not load handler module(s) ${missing.join(', ')}`)
  }
}

function reasonText(reason: unknown): string {
  if (reason === undefined) return 'cancelled'
  if (typeof reason === 'string') return `cancelled: ${reason}`
  if (reason instanceof Error && reason.name !== 'AbortError' && reason.message !== '') {
    return `cancelled: ${reason.message}`
  }
  return 'cancelled'
}

/** The pool's worker threads fail while starting (a handler module or the TS loader broke). */
export class WorkerStartupError extends Error {
  override readonly name = 'WorkerStartupError'
  readonly code = 'ERR_WORKER_STARTUP'
  constructor(cause: unknown) {
    super(`worker threads fail to start: ${(cause as Error)?.message ?? String(cause)}`, { cause })
  }
}

/** `run` was called on an executor after `close`. */
export class ExecutorClosedError extends Error {
  override readonly name = 'ExecutorClosedError'
  readonly code = 'ERR_EXECUTOR_CLOSED'
  constructor() {
    super('executor is closed')
  }
}

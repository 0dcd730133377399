import { MAX_ERROR_CHARS, MAX_STACK_CHARS } from '../protocol/constants.ts'
import { UnknownHandlerError } from '../task/errors.ts'
import type { Json } from '../task/spec.ts'
import type { TaskOutcome } from '../task/task.ts'
import { cutText } from '../util/cut-text.ts'
import type { Cancellation } from './cancellation.ts'
import {
  ExecutorClosedError,
  HandlerTimeoutError,
  InvalidOutputError,
  TaskCancelledError,
  WorkerHandlerError,
  WorkerPoolClosedError,
  WorkerStartupError,
} from './errors.ts'
import { describeError, errorStack, isFinalError } from './handler.ts'

/** One attempt the node asks the executor to run. */
export interface RunRequest {
  taskId: string
  /** Registered handler type. */
  type: string
  input: Json
  /** The attempt fails once it has run this long, in ms (positive; capped at ~24.8 days). */
  timeoutMs: number
  /** 1 for the first attempt. */
  attempt: number
  /** Outputs of the task's dependencies by task id. @defaultValue {} */
  dependencies?: Record<string, Json>
  /** The node's speed factor, handed to the handler. @defaultValue 1 */
  speed?: number
  /** Cancellation from the node, as a signal (when no {@link cancellation} is given). */
  signal?: AbortSignal
  /** Cancellation from the node, its signal made only if read (taken over {@link signal}). */
  cancellation?: Cancellation
}

/** How an attempt ended. */
export interface RunOutcome extends TaskOutcome {
  /** Unix ms when the handler started (for worker jobs: when a thread took it). */
  startedAt: number
  /** Unix ms when the attempt ended. */
  finishedAt: number
  /**
   * true when the error must not be retried: an UnrecoverableError, an unknown type, output that is
   * not JSON, a programming error (`TypeError`…) — retrying would fail the same way
   */
  unrecoverable: boolean
  /** The top of the handler's stack trace, when it threw an error that has one. */
  stack?: string
  /** The attempt ran past `timeoutMs`. */
  timedOut: boolean
  /** The node's signal cancelled the attempt. */
  cancelled: boolean
}

/** A successful outcome. */
export function succeeded(output: Json, startedAt: number): RunOutcome {
  return {
    status: 'succeeded',
    output,
    error: undefined,
    startedAt,
    finishedAt: Date.now(),
    unrecoverable: false,
    timedOut: false,
    cancelled: false,
  }
}

/** A failed outcome with the given flags. */
export function failed(
  error: string,
  startedAt: number,
  unrecoverable = false,
  timedOut = false,
  cancelled = false,
): RunOutcome {
  return {
    status: 'failed',
    output: undefined,
    // a record takes at most MAX_ERROR_CHARS of it (a handler may throw a megabyte of message)
    error: cutText(error, MAX_ERROR_CHARS),
    startedAt,
    finishedAt: Date.now(),
    unrecoverable,
    timedOut,
    cancelled,
  }
}

/**
 * Turns anything an attempt ended with into a failed outcome: the executor's own errors keep
 * their message (`timed out after 50 ms`, `unknown handler type "x"`); a handler's error is
 * rendered with its name unless it is a plain `Error`.
 */
export function failedWith(error: unknown, startedAt: number): RunOutcome {
  if (error instanceof HandlerTimeoutError) return failed(error.message, startedAt, false, true)
  if (error instanceof TaskCancelledError) return failed(error.message, startedAt, false, false, true)
  if (error instanceof UnknownHandlerError) return failed(error.message, startedAt, true)
  if (error instanceof WorkerHandlerError) {
    return withStack(failed(error.message, startedAt, error.unrecoverable), error.handlerStack)
  }
  // the same input gives the same output: a retry would fail the same way
  if (error instanceof InvalidOutputError) return failed(error.message, startedAt, true)
  if (
    error instanceof WorkerPoolClosedError ||
    error instanceof WorkerStartupError ||
    error instanceof ExecutorClosedError
  ) {
    return failed(error.message, startedAt)
  }
  return withStack(
    failed(describeError(error), startedAt, isFinalError(error)),
    errorStack(error, MAX_STACK_CHARS),
  )
}

function withStack(outcome: RunOutcome, stack: string | undefined): RunOutcome {
  return stack === undefined ? outcome : { ...outcome, stack }
}

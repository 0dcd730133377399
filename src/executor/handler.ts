import type { Json } from '../task/spec.ts'
import { cutText } from '../util/cut-text.ts'

/** What a handler learns about the attempt it runs. */
export interface HandlerContext {
  /** Id of the task being run. */
  taskId: string
  /**
   * 1 for the first attempt, 2 for the first retry, and so on: the runs that ended on their own
   * before this one, plus 1. A run cut short — its executor lost or its node stopped — does not
   * count, so a task run again elsewhere after such a loss sees the same number again.
   */
  attempt: number
  /**
   * Fires when the attempt times out or the node cancels it. Inline handlers must stop promptly
   * when it fires; worker handlers are terminated instead (their signal never fires). On inline
   * contexts this is a lazy getter (no AbortController unless read): read `ctx.signal`, don't
   * spread `ctx` into a new object.
   */
  signal: AbortSignal
  /**
   * Calls `listener` with the reason when the attempt times out or is cancelled, and returns what
   * removes it: how an inline handler hears of it without the AbortSignal that reading `signal`
   * makes. Absent on worker contexts.
   */
  onCancel?(listener: (reason: unknown) => void): () => void
  /** outputs of the task's dependencies by task id */
  dependencies: Record<string, Json>
  /**
   * The node's speed factor (1 = nominal). Simulations give nodes different speeds; handlers that
   * simulate work (`sleep`) divide their duration by it. @defaultValue 1
   */
  speed?: number
}

/** A task handler: JSON in, JSON out (sync or async). Throwing fails the attempt. */
export type HandlerFn = (input: Json, ctx: HandlerContext) => Json | Promise<Json>

/** `inline` runs on the node's event loop (only for handlers that never block: timers, I/O); `worker` (the default for operator handlers) runs in the worker-thread pool. */
export interface HandlerDefinition {
  run: HandlerFn
  mode?: 'inline' | 'worker'
  description?: string
  /**
   * What is wrong with an input, or undefined when it is fine: a node that registers the handler
   * refuses a submission whose input it finds wrong (naming the task's `input`), rather than
   * accepting a task whose every run must fail. Called in the accepting node's main thread.
   */
  checkInput?(input: Json): string | undefined
}

/** A definition with its mode resolved, as the registry stores it. */
export interface RegisteredHandler {
  readonly type: string
  readonly run: HandlerFn
  readonly mode: 'inline' | 'worker'
  readonly description?: string
  /** See {@link HandlerDefinition.checkInput}. */
  readonly checkInput?: (input: Json) => string | undefined
  /** `builtin`, `local` (registered in code) or the URL of the operator module that defined it. */
  readonly source: string
}

/**
 * Thrown by a handler to stop retries: the task fails at once.
 *
 * Operator modules need not import this class: any thrown error whose `name` is
 * `'UnrecoverableError'` or that carries `unrecoverable: true` counts (see {@link isUnrecoverable}).
 */
export class UnrecoverableError extends Error {
  override readonly name = 'UnrecoverableError'
  readonly code = 'ERR_UNRECOVERABLE'
  readonly unrecoverable = true
}

/** True when `error` asks for no retries: an {@link UnrecoverableError} or a duck-typed lookalike. */
export function isUnrecoverable(error: unknown): boolean {
  if (error instanceof UnrecoverableError) return true
  if (typeof error !== 'object' || error === null) return false
  const e = error as { name?: unknown; unrecoverable?: unknown }
  return e.name === 'UnrecoverableError' || e.unrecoverable === true
}

/**
 * Errors that say the handler's code is wrong for this input, not that the world was unlucky: the
 * same input throws them again on any node, so a retry only repeats them.
 */
const DETERMINISTIC_ERRORS = new Set(['TypeError', 'ReferenceError', 'SyntaxError', 'RangeError'])

/**
 * True when retrying cannot help: the handler asked for no retries ({@link isUnrecoverable}) or
 * threw a programming error (`TypeError`, `ReferenceError`, `SyntaxError`, `RangeError`).
 */
export function isFinalError(error: unknown): boolean {
  if (isUnrecoverable(error)) return true
  const name = (error as { name?: unknown } | null)?.name
  return typeof name === 'string' && DETERMINISTIC_ERRORS.has(name)
}

/** The top of an error's stack trace (at most `maxChars`), if it has one. */
export function errorStack(error: unknown, maxChars: number): string | undefined {
  const stack = read(() => (error as { stack?: unknown } | null)?.stack)
  if (typeof stack !== 'string' || stack === '') return undefined
  return cutText(stack, maxChars)
}

/** What `get` reads, or undefined when reading throws (a handler's error may have a throwing getter). */
function read(get: () => unknown): unknown {
  try {
    return get()
  } catch {
    return undefined
  }
}

/**
 * Renders anything a handler threw as one line: `message` for a plain `Error`,
 * `Name: message` for named errors, `String(value)` for non-errors.
 */
export function describeError(error: unknown): string {
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)) {
    const name = read(() => (error as { name?: unknown }).name)
    const message = read(() => (error as { message?: unknown }).message)
    const text = typeof message === 'string' && message !== '' ? message : '(no message)'
    return typeof name === 'string' && name !== '' && name !== 'Error' ? `${name}: ${text}` : text
  }
  const shown = read(() => (isPlainObject(error) ? JSON.stringify(error) : String(error)))
  return typeof shown === 'string' ? `non-error thrown: ${shown}` : 'non-error thrown'
}

/** An object made by `{ … }` (whose `String` says only `[object Object]`). */
function isPlainObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

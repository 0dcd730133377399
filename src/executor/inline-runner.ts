import type { Json } from '../task/spec.ts'
import { monotonicNow } from '../util/clock.ts'
import { Cancellation, type CancelSource } from './cancellation.ts'
import { HandlerTimeoutError, TaskCancelledError } from './errors.ts'
import type { HandlerContext, RegisteredHandler } from './handler.ts'
import { checkJsonOutput } from './json-output.ts'
import type { LingeringRuns } from './lingering-runs.ts'
import { failedWith, type RunOutcome, type RunRequest, succeeded } from './outcome.ts'

/** Longest delay `setTimeout` honours, in ms (about 24.8 days); longer timeouts are capped. */
export const MAX_TIMER_MS = 2 ** 31 - 1
const NO_DEPENDENCIES: Record<string, Json> = Object.freeze({})

/**
 * The context of an inline attempt. Its AbortSignal is made only if the handler reads `signal`
 * (see {@link Cancellation}), so synchronous handlers (echo, noop) cost one small object.
 */
class InlineContext implements HandlerContext {
  readonly taskId: string
  readonly attempt: number
  readonly dependencies: Record<string, Json>
  readonly speed: number
  readonly #cancellation = new Cancellation()

  constructor(req: RunRequest) {
    this.taskId = req.taskId
    this.attempt = req.attempt
    this.dependencies = req.dependencies ?? NO_DEPENDENCIES
    this.speed = req.speed ?? 1
  }

  get signal(): AbortSignal {
    return this.#cancellation.signal
  }

  onCancel(listener: (reason: unknown) => void): () => void {
    return this.#cancellation.onCancel(listener)
  }

  abort(reason: unknown): void {
    this.#cancellation.cancel(reason)
  }
}

/** `began`: `startedAt` on `monotonicNow` (a step of the wall clock does not time a run out). */
function finishSync(output: unknown, startedAt: number, timeoutMs: number, began: number): RunOutcome {
  if (monotonicNow() - began > timeoutMs) return failedWith(new HandlerTimeoutError(timeoutMs), startedAt)
  try {
    return succeeded(checkJsonOutput(output), startedAt)
  } catch (error) {
    return failedWith(error, startedAt)
  }
}

/**
 * Runs an inline handler on the event loop. A synchronous result is checked and returned at once
 * (one that blocked past `timeoutMs` counts as timed out); a promise races a timer and the node's
 * signal, and either firing aborts `ctx.signal` and ends the attempt without waiting for the handler;
 * a promise that settles after `timeoutMs` — the handler blocked the loop, so the timer could not
 * fire first — counts as timed out too.
 */
export function runInline(
  handler: RegisteredHandler,
  req: RunRequest,
  startedAt: number,
  cancellation?: CancelSource,
  lingering?: LingeringRuns,
): Promise<RunOutcome> {
  const began = monotonicNow() - (Date.now() - startedAt)
  const ctx = new InlineContext(req)
  let result: Json | Promise<Json>
  try {
    result = handler.run(req.input, ctx)
  } catch (error) {
    return Promise.resolve(failedWith(error, startedAt))
  }
  if (typeof (result as Promise<Json> | null)?.then !== 'function') {
    return Promise.resolve(finishSync(result, startedAt, req.timeoutMs, began))
  }
  const { timeoutMs } = req
  return new Promise<RunOutcome>((resolve) => {
    let settled = false
    const finish = (outcome: RunOutcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      stopListening?.()
      resolve(outcome)
    }
    const end = (error: Error) => {
      ctx.abort(error)
      finish(failedWith(error, startedAt))
      // a handler that ignores its signal runs on: counted (past a grace) until it settles
      lingering?.track(req.type, req.taskId, result as Promise<Json>)
    }
    // the handler's synchronous part (before its first await) has run already: its time counts
    const left = Math.max(0, timeoutMs - (monotonicNow() - began))
    const timer = setTimeout(() => end(new HandlerTimeoutError(timeoutMs)), Math.min(left, MAX_TIMER_MS))
    const stopListening = cancellation?.onCancel((reason) => end(new TaskCancelledError(reason)))
    ;(result as Promise<Json>).then(
      // one that blocked the loop past its timeout (the timer could not fire) timed out all the same
      (output) => finish(finishSync(output, startedAt, timeoutMs, began)),
      (error: unknown) => finish(failedWith(error, startedAt)),
    )
  })
}

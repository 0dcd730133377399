import type { Json } from '../task/spec.ts'
import { type CancelSource, cancellationOf } from './cancellation.ts'
import {
  ExecutorClosedError,
  HandlerTimeoutError,
  PoolModulesMismatchError,
  TaskCancelledError,
} from './errors.ts'
import type { RegisteredHandler } from './handler.ts'
import type { HandlerRegistry } from './handler-registry.ts'
import { MAX_TIMER_MS, runInline } from './inline-runner.ts'
import { LingeringRuns } from './lingering-runs.ts'
import { failed, failedWith, type RunOutcome, type RunRequest, succeeded } from './outcome.ts'
import { acquireSharedWorkerPool, type SharedPoolLease } from './shared-pool.ts'
import type { WorkerPool } from './worker-pool.ts'

export type { RunOutcome, RunRequest } from './outcome.ts'

const NO_DEPENDENCIES: Record<string, Json> = Object.freeze({})

/** Options of an {@link Executor}. */
export interface ExecutorOptions {
  /** The handlers this node offers. */
  registry: HandlerRegistry
  /**
   * The pool for worker-mode handlers; the caller owns it (`close` leaves it open). Must load
   * every module of `registry`. @defaultValue the process-wide shared pool for `registry.modules`,
   * acquired on the first worker job and released by `close`.
   */
  pool?: WorkerPool
  /** How long an inline handler call may run on after its attempt ended before it counts as lingering, ms. @defaultValue LINGER_GRACE_MS */
  lingerGraceMs?: number
}

/**
 * Runs one attempt of a task at a time per call: inline handlers on the event loop, worker
 * handlers in the pool. `run` never rejects — every ending, including timeouts, cancellation and
 * unknown types, is a {@link RunOutcome}. Concurrency limits are the caller's (the node's slots).
 */
export class Executor {
  readonly #registry: HandlerRegistry
  #pool: WorkerPool | undefined
  #lease: SharedPoolLease | undefined
  #closed = false
  /** Inline handler calls that outlived their attempt (see {@link LingeringRuns}). */
  readonly lingering: LingeringRuns

  constructor(opts: ExecutorOptions) {
    this.#registry = opts.registry
    this.lingering = new LingeringRuns(opts.lingerGraceMs)
    this.#pool = opts.pool
    if (opts.pool !== undefined) {
      const missing = opts.registry.modules.filter((m) => !opts.pool?.modules.includes(m))
      if (missing.length > 0) throw new PoolModulesMismatchError(missing)
    }
  }

  /** Runs one attempt. Never rejects. */
  run(req: RunRequest): Promise<RunOutcome> {
    const startedAt = Date.now()
    if (this.#closed) return Promise.resolve(failedWith(new ExecutorClosedError(), startedAt))
    const handler = this.#registry.get(req.type)
    if (handler === undefined) {
      return Promise.resolve(failed(`unknown handler type "${req.type}"`, startedAt, true))
    }
    const cancellation = cancellationOf(req)
    if (cancellation?.fired) {
      return Promise.resolve(failedWith(new TaskCancelledError(cancellation.reason), startedAt))
    }
    if (handler.mode === 'inline') return runInline(handler, req, startedAt, cancellation, this.lingering)
    return this.#runInWorker(handler, req, startedAt, cancellation)
  }

  /** Stops taking work and releases the shared pool if this executor acquired it. Safe twice. */
  async close(): Promise<void> {
    this.#closed = true
    const lease = this.#lease
    this.#lease = undefined
    await lease?.release()
  }

  #runInWorker(
    handler: RegisteredHandler,
    req: RunRequest,
    queuedAt: number,
    cancellation: CancelSource | undefined,
  ): Promise<RunOutcome> {
    if (this.#pool === undefined) {
      this.#lease = acquireSharedWorkerPool({ modules: this.#registry.modules })
      this.#pool = this.#lease.pool
    }
    const { timeoutMs } = req
    const controller = new AbortController()
    const stopListening = cancellation?.onCancel((reason) => controller.abort(new TaskCancelledError(reason)))
    let startedAt = queuedAt
    let timer: ReturnType<typeof setTimeout> | undefined
    const onStart = () => {
      startedAt = Date.now()
      timer = setTimeout(
        () => controller.abort(new HandlerTimeoutError(timeoutMs)),
        Math.min(timeoutMs, MAX_TIMER_MS),
      )
    }
    const job = {
      type: handler.type,
      input: req.input,
      taskId: req.taskId,
      attempt: req.attempt,
      dependencies: req.dependencies ?? NO_DEPENDENCIES,
      speed: req.speed ?? 1,
    }
    const cleanup = () => {
      clearTimeout(timer)
      stopListening?.()
    }
    return this.#pool.run(job, controller.signal, { onStart }).then(
      (output) => {
        cleanup()
        return succeeded(output, startedAt)
      },
      (error: unknown) => {
        cleanup()
        return failedWith(error, startedAt)
      },
    )
  }
}

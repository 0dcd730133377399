import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import { UnknownHandlerError } from '../task/errors.ts'
import type { Json } from '../task/spec.ts'
import {
  InvalidOutputError,
  WorkerHandlerError,
  WorkerPoolClosedError,
  WorkerStartupError,
} from './errors.ts'
import { workerExecArgv } from './exec-argv.ts'
import type {
  PoolWorkerData,
  WorkerEnvelope,
  WorkerJob,
  WorkerReply,
  WorkerStartedMessage,
} from './worker-protocol.ts'

/** Idle threads beyond the first exit after this long, in ms. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000
/** Threads kept alive while idle, so a job never waits for a cold start after a quiet spell. */
export const MIN_THREADS = 1
/** The worker entry, beside this file (`.ts` when running from source, `.js` once built). */
const WORKER_FILE = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? 'worker.ts' : 'worker.js', import.meta.url),
)

/** Options of a {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** `file:` URLs of the operator handler modules every worker imports (`registry.modules`). */
  modules: string[]
  /** Most threads, hence most jobs running at once. @defaultValue os.availableParallelism() */
  maxThreads?: number
  /** Idle threads beyond one exit after this many ms. @defaultValue 30000 */
  idleTimeoutMs?: number
}

/** Callbacks for one job. */
export interface WorkerRunHooks {
  /**
   * Called when a worker thread begins the job (start the timeout clock here): not while it
   * waits for a thread or a thread boots. Called at the latest just before the job settles.
   */
  onStart?: () => void
}

interface Pending {
  seq: number
  job: WorkerJob
  signal: AbortSignal | undefined
  hooks: WorkerRunHooks | undefined
  resolve: (output: Json) => void
  reject: (error: unknown) => void
  onQueuedAbort: (() => void) | undefined
  started: boolean
  done: boolean
}

/**
 * A worker-thread pool (piscina) running worker-mode handlers, so CPU-bound work never blocks the
 * node's event loop. Jobs beyond `maxThreads` wait in a FIFO here, so a job's `onStart` marks the
 * moment a worker begins it. Aborting a job's signal drops it from the queue or, once it runs,
 * terminates its thread (piscina starts a fresh one). Create one per process and share it.
 */
export class WorkerPool {
  /** `file:` URLs of the operator modules the workers import. */
  readonly modules: readonly string[]
  /** Most jobs running at once. */
  readonly maxThreads: number
  readonly #piscina: Piscina<WorkerEnvelope, WorkerReply>
  readonly #queue: Pending[] = []
  #queueHead = 0
  #queued = 0
  readonly #running = new Map<number, Pending>()
  #seq = 0
  #failure: Error | undefined
  #closing: Promise<void> | undefined

  constructor(opts: WorkerPoolOptions) {
    this.modules = Object.freeze([...opts.modules])
    this.maxThreads = Math.max(1, Math.floor(opts.maxThreads ?? availableParallelism()))
    const workerData: PoolWorkerData = { modules: [...opts.modules] }
    this.#piscina = new Piscina<WorkerEnvelope, WorkerReply>({
      filename: WORKER_FILE,
      minThreads: Math.min(MIN_THREADS, this.maxThreads),
      maxThreads: this.maxThreads,
      idleTimeout: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      concurrentTasksPerWorker: 1,
      // an idle thread waits without blocking: a handler module's own timers (keep-alives,
      // refreshes) run between jobs ('sync' would freeze its event loop until the next job)
      atomics: 'async',
      execArgv: workerExecArgv(WORKER_FILE, this.modules),
      workerData,
      recordTiming: false,
    })
    this.#piscina.on('error', (error: unknown) => this.#onPoolError(error))
    this.#piscina.on('message', (message: WorkerStartedMessage) => {
      const p = this.#running.get(message?.taskmeshJobStarted)
      if (p !== undefined) markStarted(p)
    })
  }

  /**
   * Runs `job` on a worker thread. Rejects with `signal.reason` when the signal fires (the job is
   * dropped or its thread terminated), `WorkerHandlerError` when the handler throws,
   * `InvalidOutputError`, `UnknownHandlerError`, `WorkerPoolClosedError` or `WorkerStartupError`.
   */
  run(job: WorkerJob, signal?: AbortSignal, hooks?: WorkerRunHooks): Promise<Json> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    if (this.#closing !== undefined) return Promise.reject(new WorkerPoolClosedError())
    if (signal?.aborted) return Promise.reject(signal.reason)
    return new Promise<Json>((resolve, reject) => {
      const p: Pending = {
        seq: ++this.#seq,
        job,
        signal,
        hooks,
        resolve,
        reject,
        onQueuedAbort: undefined,
        started: false,
        done: false,
      }
      if (this.#running.size < this.maxThreads) {
        this.#start(p)
        return
      }
      if (signal !== undefined) {
        p.onQueuedAbort = () => {
          p.done = true
          this.#queued--
          reject(signal.reason)
        }
        signal.addEventListener('abort', p.onQueuedAbort, { once: true })
      }
      this.#queue.push(p)
      this.#queued++
    })
  }

  /** Fraction of threads busy right now: running jobs / `maxThreads`, in [0, 1]. */
  get utilization(): number {
    return this.#running.size / this.maxThreads
  }

  /** Jobs waiting for a thread. */
  get queueSize(): number {
    return this.#queued
  }

  /** Jobs running on a thread now. */
  get running(): number {
    return this.#running.size
  }

  /** Live worker threads (started lazily, up to `maxThreads`; idle ones exit). */
  get threads(): number {
    return this.#piscina.threads.length
  }

  /** Rejects waiting and running jobs with `WorkerPoolClosedError` and stops every thread. Safe twice. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    this.#failAll(new WorkerPoolClosedError())
    await this.#piscina.destroy()
  }

  #start(p: Pending): void {
    this.#running.set(p.seq, p)
    if (p.onQueuedAbort !== undefined) p.signal?.removeEventListener('abort', p.onQueuedAbort)
    this.#piscina.run({ ...p.job, seq: p.seq }, { signal: p.signal ?? null }).then(
      (reply) => {
        if (!this.#finish(p)) return
        markStarted(p)
        settle(p, reply)
      },
      (error: unknown) => {
        if (this.#finish(p)) p.reject(p.signal?.aborted ? p.signal.reason : error)
      },
    )
  }

  /** Marks `p` done and starts queued jobs; false when `p` was already settled. */
  #finish(p: Pending): boolean {
    if (p.done) return false
    p.done = true
    this.#running.delete(p.seq)
    while (this.#running.size < this.maxThreads && this.#queued > 0) {
      const next = this.#queue[this.#queueHead++]
      if (next.done) continue
      this.#queued--
      this.#start(next)
    }
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#queueHead)
      this.#queueHead = 0
    }
    return true
  }

  #onPoolError(error: unknown): void {
    // A worker died outside any job. With no thread left, piscina will not start another (its
    // workers fail while booting), so fail everything now instead of leaving jobs stuck.
    if (this.#closing === undefined && this.#piscina.threads.length === 0) {
      this.#failure = new WorkerStartupError(error)
      this.#failAll(this.#failure)
    }
  }

  #failAll(error: Error): void {
    const victims = [...this.#running.values(), ...this.#queue.slice(this.#queueHead)]
    this.#running.clear()
    this.#queue.length = 0
    this.#queueHead = 0
    this.#queued = 0
    for (const p of victims) {
      if (p.done) continue
      p.done = true
      if (p.onQueuedAbort !== undefined) p.signal?.removeEventListener('abort', p.onQueuedAbort)
      p.reject(error)
    }
  }
}

function markStarted(p: Pending): void {
  if (p.started) return
  p.started = true
  p.hooks?.onStart?.()
}

function settle(p: Pending, reply: WorkerReply): void {
  if (reply.ok) p.resolve(reply.output)
  else if (reply.unknownType) p.reject(new UnknownHandlerError(p.job.type))
  else if (reply.invalidOutput) p.reject(new InvalidOutputError(reply.error))
  else p.reject(new WorkerHandlerError(reply.error, reply.unrecoverable, reply.stack))
}

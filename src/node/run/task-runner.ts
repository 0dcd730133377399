import { Cancellation } from '../../executor/cancellation.ts'
import type { RunOutcome, RunRequest } from '../../executor/executor.ts'
import type { Json } from '../../task/spec.ts'
import { type AttemptRecord, handlerRuns, type Task } from '../../task/task.ts'

/** The least work any task is counted as, ms (a no-op still takes a turn of a slot). */
export const MIN_TASK_MS = 1

/** A task this node is about to run or runs, with the lease epoch it runs under. */
export interface RunEntry {
  task: Task
  /** Epoch of the lease (or of the owner's own run) this attempt belongs to. */
  epoch: number
  /** Attempts so far, oldest first; every error stays visible in the result. */
  attempts: AttemptRecord[]
  dependencies: Record<string, Json>
  /** The owner's grant proof of the lease, for a task stolen from another owner (see `grant-proof.ts`). */
  grant?: string
}

/** Runs one attempt of a task (the executor, or a wrapper that first fills in what the entry lacks). */
export interface AttemptExecutor {
  run(req: RunRequest, entry: RunEntry): Promise<RunOutcome>
}

/** Options of {@link TaskRunner}. */
export interface TaskRunnerOptions {
  executor: AttemptExecutor
  slots: number
  self: string
  /** The node's speed factor, handed to handlers. */
  speed: number
}

/** Hears every attempt that ends (it is recorded in the entry's `attempts` first). */
export type AttemptListener = (entry: RunEntry, outcome: RunOutcome) => void

/**
 * Runs tasks in the node's slots: hands each to the executor (inline or the worker pool),
 * records the attempt, and reports the outcome. Cancellation aborts the handler's signal.
 */
export class TaskRunner {
  private readonly running = new Map<
    string,
    { entry: RunEntry; cancellation: Cancellation; startedAt: number }
  >()
  private used = 0
  private listener: AttemptListener = () => undefined

  constructor(private readonly opts: TaskRunnerOptions) {}

  /** Sends every ended attempt to `listener` (the node's run loop) from now on. */
  onAttemptEnd(listener: AttemptListener): void {
    this.listener = listener
  }

  get slots(): number {
    return this.opts.slots
  }

  get usedSlots(): number {
    return this.used
  }

  get freeSlots(): number {
    return this.opts.slots - this.used
  }

  get runningCount(): number {
    return this.running.size
  }

  isRunning(taskId: string): boolean {
    return this.running.has(taskId)
  }

  runningIds(): string[] {
    return [...this.running.keys()]
  }

  /** The attempts under way, with when each started (Unix ms). */
  runningEntries(): Array<{ entry: RunEntry; startedAt: number }> {
    return [...this.running.values()].map(({ entry, startedAt }) => ({ entry, startedAt }))
  }

  /** Starts an attempt; the caller has checked that the slots are free. */
  start(entry: RunEntry): void {
    const { task } = entry
    const cancellation = new Cancellation()
    this.running.set(task.id, { entry, cancellation, startedAt: Date.now() })
    this.used += task.spec.resources.slots
    const attempt = handlerRuns(entry.attempts) + 1
    void this.opts.executor
      .run(
        {
          taskId: task.id,
          type: task.spec.type,
          input: task.spec.input,
          timeoutMs: task.spec.timeoutMs,
          attempt,
          dependencies: entry.dependencies,
          speed: this.opts.speed,
          cancellation,
        },
        entry,
      )
      .then((outcome) => {
        if (this.running.get(task.id)?.cancellation !== cancellation) return
        this.running.delete(task.id)
        this.used -= task.spec.resources.slots
        // keys in sorted order, as records have them (see `runRecord`)
        entry.attempts.push({
          epoch: entry.epoch,
          ...(outcome.status === 'failed' ? { error: outcome.error ?? 'failed' } : {}),
          executor: this.opts.self,
          finishedAt: outcome.finishedAt,
          ...(outcome.stack === undefined ? {} : { stack: outcome.stack }),
          startedAt: outcome.startedAt,
        })
        this.listener(entry, outcome)
      })
  }

  /**
   * Estimated ms of work left in the running attempts, in slot-ms: per attempt, what its
   * estimate says is left, or (past the estimate) as long again as it has run so far.
   */
  remainingWorkMs(now: number, estimate: (type: string) => number): number {
    let ms = 0
    for (const { entry, startedAt } of this.running.values()) {
      const elapsed = Math.max(0, now - startedAt)
      const left = Math.max(estimate(entry.task.spec.type) - elapsed, elapsed, MIN_TASK_MS)
      ms += left * entry.task.spec.resources.slots
    }
    return ms
  }

  /** Aborts a running attempt; its outcome is still reported (as cancelled). */
  cancel(taskId: string, reason = 'cancelled'): boolean {
    const run = this.running.get(taskId)
    if (run === undefined) return false
    run.cancellation.cancel(new Error(reason))
    return true
  }

  /** Aborts every running attempt. */
  cancelAll(reason: string): void {
    for (const id of this.running.keys()) this.cancel(id, reason)
  }
}

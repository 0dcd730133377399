import type { DurationEstimator } from '../policy/capacity.ts'
import type { QueuePolicy } from '../policy/priority.ts'
import { type TaskFilter, TaskQueue } from '../policy/queue.ts'
import type { QueuedTask } from '../policy/types.ts'
import type { Task } from '../task/task.ts'

/** Options of {@link LocalQueue}. */
export interface LocalQueueOptions {
  /** Queue order. */
  policy: QueuePolicy
  /** Expected run time per handler type (nominal ms), for the work the queue holds. */
  estimator: DurationEstimator
}

/**
 * This node's queue of tasks waiting for a slot: the tasks it owns (stealable: thieves may be
 * granted them) and the tasks it holds under a lease from another owner (never granted onward),
 * with the work they represent by the duration estimates.
 */
export class LocalQueue {
  private readonly queue: TaskQueue
  private readonly estimator: DurationEstimator

  constructor(opts: LocalQueueOptions) {
    this.queue = new TaskQueue(opts.policy)
    this.estimator = opts.estimator
  }

  /** Number of queued tasks. */
  get size(): number {
    return this.queue.size
  }

  /** Number of queued tasks that may be granted to thieves. */
  get stealableCount(): number {
    return this.queue.stealableCount
  }

  /** Queues a task as of now; `stealable` only for tasks this node owns. */
  enqueue(task: Task, stealable: boolean): void {
    this.queue.push({
      id: task.id,
      type: task.spec.type,
      priority: task.spec.priority,
      resources: task.spec.resources,
      enqueuedAt: Date.now(),
      stealable,
    })
  }

  /** Takes a task out of the queue (its lease was revoked). */
  remove(id: string): QueuedTask | undefined {
    return this.queue.remove(id)
  }

  /** Takes the next task to run among those `canRun` accepts. */
  pop(now: number, canRun: TaskFilter): QueuedTask | undefined {
    return this.queue.pop(now, canRun)
  }

  /** Takes up to `max` stealable tasks `canRun` accepts, for a grant. */
  takeForSteal(now: number, max: number, canRun: TaskFilter): QueuedTask[] {
    return this.queue.takeForSteal(now, max, canRun)
  }

  /** Estimated ms of queued work: of every queued task, or of the stealable ones only. */
  queuedWorkMs(stealableOnly: boolean): number {
    let ms = 0
    for (const t of this.queue.values())
      if (!stealableOnly || t.stealable) ms += this.estimator.estimate(t.type)
    return ms
  }
}

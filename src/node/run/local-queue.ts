import type { DurationEstimator } from '../../policy/capacity.ts'
import type { QueuePolicy } from '../../policy/priority.ts'
import { type StealOrder, type TaskFilter, TaskQueue } from '../../policy/queue.ts'
import type { QueuedTask } from '../../policy/types.ts'
import { shapeOf, WorkTally } from '../../policy/work-tally.ts'
import type { Task } from '../../task/task.ts'
import { MIN_TASK_MS } from './task-runner.ts'

/** Options of {@link LocalQueue}. */
export interface LocalQueueOptions {
  /** Queue order. */
  policy: QueuePolicy
  /** Expected run time per handler type (nominal ms), for the work the queue holds. */
  estimator: DurationEstimator
  /** True for tasks this node can run itself; the others wait for a capable thief. */
  canRunHere: (task: QueuedTask) => boolean
  /** Work left in this node's running attempts, slot-ms (it delays every queued task). */
  runningWorkMs: () => number
  /** Which tasks a thief is handed first. @defaultValue DEFAULT_STEAL_ORDER */
  stealOrder?: StealOrder
}

/** How the queue changed: a task came in, or tasks left it (run, granted, removed). */
export type QueueChange = 'added' | 'removed'

/**
 * Work a queued task this node cannot run counts as: its wait here is unbounded, so it must
 * rank its owner above any peer a capable thief compares it with, whatever the steal cost.
 */
export const STRANDED_WORK_MS = 3_600_000

/**
 * This node's queue of tasks waiting for a slot: the tasks it owns (stealable: thieves may be
 * granted them) and the tasks it holds under a lease from another owner (never granted onward),
 * with the work they represent by the duration estimates.
 */
export class LocalQueue {
  private readonly queue: TaskQueue
  /** The queued tasks by shape: what {@link queuedWorkMs} sums (every task in and out goes through here). */
  private readonly tally = new WorkTally()
  private readonly estimator: DurationEstimator
  private readonly listeners: Array<(change: QueueChange) => void> = []

  constructor(private readonly opts: LocalQueueOptions) {
    this.queue = new TaskQueue(opts.policy)
    this.estimator = opts.estimator
  }

  /** Calls `listener` after every change of the queue (e.g. the run loop fills slots when tasks come in). */
  onChange(listener: (change: QueueChange) => void): void {
    this.listeners.push(listener)
  }

  private changed(change: QueueChange): void {
    for (const listener of this.listeners) listener(change)
  }

  /** Number of queued tasks. */
  get size(): number {
    return this.queue.size
  }

  /** Number of queued tasks that may be granted to thieves. */
  get stealableCount(): number {
    return this.queue.stealableCount
  }

  /**
   * The handler types of the tasks that may be granted to thieves (none queued: empty); undefined
   * when there are more than `max` (a sum over the queue's shapes, not its tasks).
   */
  stealableTypes(max: number): string[] | undefined {
    const types = new Set<string>()
    for (const { sample, stealable } of this.tally.values()) {
      if (stealable === 0) continue
      types.add(sample.type)
      if (types.size > max) return undefined
    }
    return [...types]
  }

  /**
   * Queues a task; `stealable` only for tasks this node owns. It ages from its submission, so a
   * task that was stolen, requeued or adopted keeps the wait it has already had.
   */
  enqueue(task: Task, stealable: boolean): void {
    const queued: QueuedTask = {
      id: task.id,
      type: task.spec.type,
      priority: task.spec.priority,
      resources: task.spec.resources,
      enqueuedAt: Math.min(task.submittedAt, Date.now()),
      stealable,
    }
    queued.shape = shapeOf(queued)
    if (this.queue.push(queued)) this.tally.add(queued)
    this.changed('added')
  }

  /** Takes a task out of the queue (its lease was revoked). */
  remove(id: string): QueuedTask | undefined {
    const removed = this.queue.remove(id)
    if (removed !== undefined) {
      this.tally.remove(removed)
      this.changed('removed')
    }
    return removed
  }

  /** Every queued task, in no particular order (the owner's unschedulable check reads them). */
  values(): IterableIterator<QueuedTask> {
    return this.queue.values()
  }

  /** Takes the next task to run among those `canRun` accepts. */
  pop(now: number, canRun: TaskFilter): QueuedTask | undefined {
    const next = this.queue.pop(now, canRun)
    if (next !== undefined) {
      this.tally.remove(next)
      this.changed('removed')
    }
    return next
  }

  /** Takes up to `max` stealable tasks `canRun` accepts, for a grant, in the node's steal order. */
  takeForSteal(now: number, max: number, canRun: TaskFilter): QueuedTask[] {
    const taken = this.queue.takeForSteal(now, max, canRun, this.opts.stealOrder)
    for (const t of taken) this.tally.remove(t)
    if (taken.length > 0) this.changed('removed')
    return taken
  }

  /**
   * Estimated slot-ms a task queued now would wait behind: the queued tasks (all, or only the
   * stealable ones) at their estimates (at least {@link MIN_TASK_MS}, times their slots; tasks
   * this node cannot run count as {@link STRANDED_WORK_MS}), plus the work left in the running
   * attempts. A sum over the queue's shapes (type and resources), not its tasks.
   */
  queuedWorkMs(stealableOnly: boolean): number {
    let ms = this.opts.runningWorkMs()
    for (const { sample, all, stealable } of this.tally.values()) {
      const count = stealableOnly ? stealable : all
      if (count === 0) continue
      ms +=
        count *
        (this.opts.canRunHere(sample)
          ? Math.max(MIN_TASK_MS, this.estimator.estimate(sample.type)) * sample.resources.slots
          : STRANDED_WORK_MS)
    }
    return ms
  }
}

import {
  DEFAULT_QUEUE_POLICY,
  effectivePriorityFn,
  type QueuePolicy,
  validateQueuePolicy,
} from './priority.ts'
import { before, type Entry, emptyLane, type Lane, laneKey, link, unlink } from './queue-lane.ts'
import type { QueuedTask } from './types.ts'

/**
 * Which queued tasks a victim hands a thief first: `most-urgent` (highest effective priority, what
 * the victim would run next) or `least-urgent` (what it would reach last). See `takeForSteal`.
 */
export type StealOrder = 'most-urgent' | 'least-urgent'

/** The steal order a node uses unless told otherwise. */
export const DEFAULT_STEAL_ORDER: StealOrder = 'most-urgent'

/**
 * Accepts the tasks a runner can take; the default accepts every task. A filter judges a task by
 * its shape — handler type, resources, `stealable` — and the queue asks it once per shape and
 * priority: tasks of one shape are taken or passed over together.
 */
export type TaskFilter = (task: QueuedTask) => boolean

/** The tasks of one priority: one lane per shape, in FIFO order each. */
interface Level {
  priority: number
  /** Effective priority of this level's tasks as a function of wait. */
  score: (waitMs: number) => number
  lanes: Map<string, Lane>
  /** The same lanes, for iteration. */
  list: Lane[]
}

const acceptAll: TaskFilter = () => true

/**
 * A node's queue of tasks waiting to run, ordered by a `QueuePolicy`: highest effective priority
 * first, ties FIFO (by `enqueuedAt`, then push order).
 *
 * Tasks are kept in one FIFO per distinct priority and shape (a lane). Tasks of equal priority
 * age along the same curve, so their relative order never changes and only the heads of the lanes
 * compete: `pop`/`peek` cost O(lanes) whatever the filter rejects (one filter call per lane, where
 * one FIFO per priority walked past every task it rejected: 10,000 pops of one-slot tasks queued
 * behind 10,000 four-slot ones took 0.4–0.5 s), `push` is O(1) for tasks in arrival order (a
 * requeued task with an older `enqueuedAt` is slotted into place), `remove` O(1).
 */
export class TaskQueue {
  readonly policy: QueuePolicy
  private readonly entries = new Map<string, Entry>()
  private readonly levels = new Map<number, Level>()
  /** Non-empty levels, highest priority first. */
  private readonly order: Level[] = []
  private seq = 0
  private stealable = 0

  /** @throws InvalidPolicyError when the policy's parameters are out of range. */
  constructor(policy: QueuePolicy = DEFAULT_QUEUE_POLICY) {
    this.policy = validateQueuePolicy(policy)
  }

  /** Number of queued tasks. */
  get size(): number {
    return this.entries.size
  }

  /** Number of queued tasks that may be granted to thieves. */
  get stealableCount(): number {
    return this.stealable
  }

  /** Adds a task. A task whose id is already queued changes nothing and returns false. */
  push(task: QueuedTask): boolean {
    if (this.entries.has(task.id)) return false
    const lane = this.laneFor(task)
    const entry: Entry = { task, seq: this.seq++, lane, prev: undefined, next: undefined }
    link(entry)
    this.entries.set(task.id, entry)
    if (task.stealable) this.stealable++
    return true
  }

  /** Removes a task by id and returns it, or undefined when it is not queued. */
  remove(id: string): QueuedTask | undefined {
    const entry = this.entries.get(id)
    if (entry === undefined) return undefined
    this.unlink(entry)
    return entry.task
  }

  /** True when a task with this id is queued. */
  has(id: string): boolean {
    return this.entries.has(id)
  }

  /** The queued task with this id. */
  get(id: string): QueuedTask | undefined {
    return this.entries.get(id)?.task
  }

  /** Every queued task, in push order (not run order). */
  *values(): IterableIterator<QueuedTask> {
    for (const entry of this.entries.values()) yield entry.task
  }

  /** The task `pop` would return, without removing it. */
  peek(now: number, canRun: TaskFilter = acceptAll): QueuedTask | undefined {
    return this.best(now, canRun)?.task
  }

  /** Removes and returns the highest effective priority task `canRun` accepts (ties FIFO). */
  pop(now: number, canRun: TaskFilter = acceptAll): QueuedTask | undefined {
    const entry = this.best(now, canRun)
    if (entry === undefined) return undefined
    this.unlink(entry)
    return entry.task
  }

  /**
   * Removes and returns up to `max` stealable tasks the thief can run (`canRun`), in `order`:
   * - `most-urgent` (default): highest effective priority first — what this node would run next.
   *   A node is robbed only when its queue waits longer than the thief's, so its urgent tasks wait
   *   too; an idle slot anywhere in the mesh goes to the most urgent waiting work, and the mesh as a
   *   whole runs in priority order (measured in `scripts/bench/steal-order.ts`).
   * - `least-urgent`: lowest effective priority first — the tasks this node would reach last.
   * Non-stealable (leased-in) tasks are never taken.
   */
  takeForSteal(
    now: number,
    max: number,
    canRun: TaskFilter,
    order: StealOrder = DEFAULT_STEAL_ORDER,
  ): QueuedTask[] {
    const taken: QueuedTask[] = []
    if (!(max >= 1) || this.stealable === 0) return taken
    const eligible = (t: QueuedTask): boolean => t.stealable && canRun(t)
    if (order === 'most-urgent') {
      while (taken.length < max) {
        const entry = this.best(now, eligible)
        if (entry === undefined) break
        this.unlink(entry)
        taken.push(entry.task)
      }
      return taken
    }
    const cursors: Entry[] = []
    for (const level of this.order) {
      for (const lane of level.list) {
        const e = lane.tail !== undefined && eligible(lane.tail.task) ? lane.tail : undefined
        if (e !== undefined) cursors.push(e)
      }
    }
    while (taken.length < max && cursors.length > 0) {
      let pick = 0
      let pickScore = this.scoreOf(cursors[0], now)
      for (let i = 1; i < cursors.length; i++) {
        const score = this.scoreOf(cursors[i], now)
        if (score < pickScore || (score === pickScore && before(cursors[pick], cursors[i]))) {
          pick = i
          pickScore = score
        }
      }
      const entry = cursors[pick]
      const prev = entry.prev
      if (prev === undefined) cursors.splice(pick, 1)
      else cursors[pick] = prev
      this.unlink(entry)
      taken.push(entry.task)
    }
    return taken
  }

  private scoreOf(entry: Entry, now: number): number {
    const memo = entry.lane.memo
    if (memo.entry !== entry || memo.now !== now) {
      memo.entry = entry
      memo.now = now
      memo.score = entry.lane.score(now - entry.task.enqueuedAt)
    }
    return memo.score
  }

  private best(now: number, canRun: TaskFilter): Entry | undefined {
    let best: Entry | undefined
    let bestScore = Number.NEGATIVE_INFINITY
    for (const level of this.order) {
      // within a level the earliest runnable head wins: its tasks age along one curve
      let e: Entry | undefined
      for (const lane of level.list) {
        const head = lane.head as Entry
        if ((e === undefined || before(head, e)) && canRun(head.task)) e = head
      }
      if (e === undefined) continue
      // Strict order: levels are sorted and the first runnable head wins.
      if (this.policy.kind === 'strict') return e
      const score = this.scoreOf(e, now)
      if (best === undefined || score > bestScore || (score === bestScore && before(e, best))) {
        best = e
        bestScore = score
      }
    }
    return best
  }

  private laneFor(task: QueuedTask): Lane {
    const priority = task.priority
    let level = this.levels.get(priority)
    if (level === undefined) {
      level = { priority, score: effectivePriorityFn(this.policy, priority), lanes: new Map(), list: [] }
      this.levels.set(priority, level)
      this.order.splice(this.insertionIndex(priority), 0, level)
    }
    const key = laneKey(task)
    let lane = level.lanes.get(key)
    if (lane === undefined) {
      lane = emptyLane(key, priority, level.score)
      level.lanes.set(key, lane)
      level.list.push(lane)
    }
    return lane
  }

  /** Index in the descending `order` where `priority` belongs (binary search). */
  private insertionIndex(priority: number): number {
    let lo = 0
    let hi = this.order.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.order[mid].priority > priority) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private unlink(entry: Entry): void {
    this.entries.delete(entry.task.id)
    if (entry.task.stealable) this.stealable--
    if (!unlink(entry)) return
    const lane = entry.lane
    const level = this.levels.get(lane.priority) as Level
    level.lanes.delete(lane.key)
    level.list.splice(level.list.indexOf(lane), 1)
    if (level.list.length > 0) return
    this.levels.delete(level.priority)
    this.order.splice(this.insertionIndex(level.priority), 1)
  }
}

import {
  DEFAULT_QUEUE_POLICY,
  effectivePriorityFn,
  type QueuePolicy,
  validateQueuePolicy,
} from './priority.ts'
import type { QueuedTask } from './types.ts'

/**
 * Which queued tasks a victim hands a thief first: `most-urgent` (highest effective priority, what
 * the victim would run next) or `least-urgent` (what it would reach last). See `takeForSteal`.
 */
export type StealOrder = 'most-urgent' | 'least-urgent'

/** The steal order a node uses unless told otherwise. */
export const DEFAULT_STEAL_ORDER: StealOrder = 'most-urgent'

/** Accepts the tasks a runner can take; the default accepts every task. */
export type TaskFilter = (task: QueuedTask) => boolean

interface Entry {
  task: QueuedTask
  /** Push order, breaks ties between equal `enqueuedAt`. */
  seq: number
  level: Level
  prev: Entry | undefined
  next: Entry | undefined
}

interface Level {
  priority: number
  /** Effective priority of this level's tasks as a function of wait. */
  score: (waitMs: number) => number
  head: Entry | undefined
  tail: Entry | undefined
  /** The last score computed, memoised for repeated pops at the same `now`. */
  memo: { entry: Entry | undefined; now: number; score: number }
  /** The last task pushed out of arrival order: the next of a batch in order goes after it. */
  finger: Entry | undefined
}

const acceptAll: TaskFilter = () => true

/** FIFO order: earlier `enqueuedAt` first, then push order. */
function before(a: Entry, b: Entry): boolean {
  return a.task.enqueuedAt < b.task.enqueuedAt || (a.task.enqueuedAt === b.task.enqueuedAt && a.seq < b.seq)
}

/**
 * The entry of `level` a new `entry` goes after (undefined: at its head), in FIFO order: in arrival
 * order, the tail; older than every task, the head; else found walking back from the tail and, at
 * once, forward from the last task pushed out of order (a batch of older tasks — adopted, requeued —
 * comes in order) or from the head. Walking back from the tail alone took 2 ms a task pushed into
 * 100,000 (an adoption of 10,000: 20 s in one turn).
 */
function placeOf(entry: Entry, level: Level): Entry | undefined {
  const { head, tail, finger } = level
  if (tail === undefined || head === undefined || !before(entry, tail)) return tail
  if (before(entry, head)) return undefined
  // `ahead` is never after the place, `back` walks down to it; one of them reaches it
  let ahead = finger !== undefined && !before(entry, finger) ? finger : head
  let back = tail.prev
  for (;;) {
    const next = ahead.next
    if (next === undefined || before(entry, next)) return ahead
    ahead = next
    if (back !== undefined && !before(entry, back)) return back
    back = back?.prev
  }
}

/**
 * A node's queue of tasks waiting to run, ordered by a `QueuePolicy`: highest effective priority
 * first, ties FIFO (by `enqueuedAt`, then push order).
 *
 * Tasks are kept in one FIFO per distinct priority. Tasks of equal priority age along the same
 * curve, so their relative order never changes and only the heads of the levels compete:
 * `pop`/`peek` cost O(levels) when the filter accepts the heads, `push` is O(1) for tasks in
 * arrival order (a requeued task with an older `enqueuedAt` is slotted into place), `remove` O(1).
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
    const level = this.levelFor(task.priority)
    const entry: Entry = { task, seq: this.seq++, level, prev: undefined, next: undefined }
    const after = placeOf(entry, level)
    if (after !== level.tail) level.finger = entry
    entry.prev = after
    entry.next = after === undefined ? level.head : after.next
    if (entry.next === undefined) level.tail = entry
    else entry.next.prev = entry
    if (after === undefined) level.head = entry
    else after.next = entry
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
    const lastEligible = (from: Entry | undefined): Entry | undefined => {
      let e = from
      while (e !== undefined && !eligible(e.task)) e = e.prev
      return e
    }
    const cursors: Entry[] = []
    for (const level of this.order) {
      const e = lastEligible(level.tail)
      if (e !== undefined) cursors.push(e)
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
      const prev = lastEligible(entry.prev)
      if (prev === undefined) cursors.splice(pick, 1)
      else cursors[pick] = prev
      this.unlink(entry)
      taken.push(entry.task)
    }
    return taken
  }

  private scoreOf(entry: Entry, now: number): number {
    const memo = entry.level.memo
    if (memo.entry !== entry || memo.now !== now) {
      memo.entry = entry
      memo.now = now
      memo.score = entry.level.score(now - entry.task.enqueuedAt)
    }
    return memo.score
  }

  private best(now: number, canRun: TaskFilter): Entry | undefined {
    let best: Entry | undefined
    let bestScore = Number.NEGATIVE_INFINITY
    for (const level of this.order) {
      let e = level.head
      while (e !== undefined && !canRun(e.task)) e = e.next
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

  private levelFor(priority: number): Level {
    let level = this.levels.get(priority)
    if (level === undefined) {
      level = {
        priority,
        score: effectivePriorityFn(this.policy, priority),
        head: undefined,
        tail: undefined,
        memo: { entry: undefined, now: 0, score: 0 },
        finger: undefined,
      }
      this.levels.set(priority, level)
      this.order.splice(this.insertionIndex(priority), 0, level)
    }
    return level
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
    const level = entry.level
    if (entry.prev === undefined) level.head = entry.next
    else entry.prev.next = entry.next
    if (entry.next === undefined) level.tail = entry.prev
    else entry.next.prev = entry.prev
    entry.prev = undefined
    entry.next = undefined
    if (level.memo.entry === entry) level.memo.entry = undefined
    if (level.finger === entry) level.finger = undefined
    this.entries.delete(entry.task.id)
    if (entry.task.stealable) this.stealable--
    if (level.head === undefined) {
      this.levels.delete(level.priority)
      this.order.splice(this.insertionIndex(level.priority), 1)
    }
  }
}

import type { Task, TaskStatus } from '../../task/task.ts'
import { trimOldest } from '../../util/trim-oldest.ts'
import type { TaskEvent, TaskEvents } from '../story/task-events.ts'

/** Owned tasks that ended whose summary a node keeps for `GET /tasks` (the oldest are forgotten first). */
export const DEFAULT_SETTLED_LOG = 1_000
/** Outcomes heard before their task settled (a run's `finished` comes just before), kept at most. */
const PENDING_OUTCOMES = 256

/** An owned task that has a result. */
export interface SettledTask {
  task: Task
  /** Unix ms when it settled here. */
  endedAt: number
  /** The thief whose completion settled it; absent for the owner's own run or decision. */
  by?: string
  /** The record's status, once heard (a run's `finished`, a thief's `completed`). */
  status?: TaskStatus
  /** The record's error, for a failed task run or ended here. */
  error?: string
}

interface Outcome {
  status: TaskStatus
  error?: string
}

/**
 * The last tasks this node owned that ended, with their status: the owner ledger forgets a task as
 * soon as it has a result, and an operator listing `GET /tasks?state=failed` wants the recent
 * failures. Bounded; fed by the ledger (`add`, as a task settles) and by the node's task events
 * (the status of a run here, or of a thief's accepted completion).
 */
export class SettledLog {
  private readonly ended = new Map<string, SettledTask>()
  private readonly pending = new Map<string, Outcome>()

  constructor(private readonly max = DEFAULT_SETTLED_LOG) {}

  /** Hears outcomes from `events` from now on; returns what stops it. */
  listen(events: TaskEvents): () => void {
    return events.on((e) => this.onEvent(e))
  }

  /** An owned task settled now. */
  add(task: Task, by: string | undefined, now = Date.now()): void {
    const entry: SettledTask = by === undefined ? { task, endedAt: now } : { task, endedAt: now, by }
    const outcome = this.pending.get(task.id)
    if (outcome !== undefined) {
      this.pending.delete(task.id)
      Object.assign(entry, outcome)
    }
    this.ended.delete(task.id)
    this.ended.set(task.id, entry)
    trimOldest(this.ended, this.max)
  }

  /** The settled tasks, oldest first. */
  list(): SettledTask[] {
    return [...this.ended.values()]
  }

  get size(): number {
    return this.ended.size
  }

  private onEvent(e: TaskEvent): void {
    const accepted = e.event === 'completed' && e.detail?.outcome === 'accepted'
    if (e.event !== 'finished' && !accepted) return
    const status = e.detail?.status
    if (status !== 'succeeded' && status !== 'failed') return
    const error = e.detail?.error
    const outcome: Outcome = typeof error === 'string' ? { status, error } : { status }
    const entry = this.ended.get(e.taskId)
    if (entry !== undefined) {
      if (entry.status === undefined) Object.assign(entry, outcome)
      return
    }
    this.pending.set(e.taskId, outcome)
    trimOldest(this.pending, PENDING_OUTCOMES)
  }
}

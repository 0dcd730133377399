import type { Task, TaskStatus } from '../../task/task.ts'
import type { OwnedTask } from '../owner/owner-ledger.ts'
import type { SettledTask } from './settled-log.ts'

/** How an owned task stands in a listing: its state at its owner, or its record's status once it ended. */
export type ListedState = 'waiting' | 'queued' | 'leased' | 'running' | 'unschedulable' | TaskStatus | 'done'

/** Every state a listing can filter by (`done`: ended, status not known here). */
export const LISTED_STATES: readonly ListedState[] = [
  'waiting',
  'queued',
  'leased',
  'running',
  'unschedulable',
  'succeeded',
  'failed',
  'done',
]
/** Tasks one page holds when no limit is asked for. */
export const DEFAULT_LIST_LIMIT = 100
/** Most tasks one page holds. */
export const MAX_LIST_LIMIT = 1_000

/** One task this node owns, as `GET /tasks` lists it. */
export interface ListedTask {
  taskId: string
  type: string
  state: ListedState
  /** Why it waits, why no node can run it, or what it ended with. */
  reason?: string
  priority: number
  submitter: string
  /** Unix ms when this node accepted it. */
  submittedAt: number
  /** For an ended task: when it ended here (Unix ms). */
  endedAt?: number
  /** For an ended task: the thief whose completion settled it. */
  by?: string
}

/** What a listing asks for. */
export interface TaskListQuery {
  /** Only tasks in one of these states. @defaultValue every state */
  states?: readonly ListedState[]
  /** Most tasks on the page. @defaultValue DEFAULT_LIST_LIMIT */
  limit?: number
  /** The `next` cursor of the page before. */
  after?: string
}

/** One page of a listing; `next` continues it (absent on the last page). */
export interface TaskListPage {
  tasks: ListedTask[]
  next?: string
}

/** Where a listing reads the node's tasks from. */
export interface TaskListSources {
  waiting: Task[]
  owned: Iterable<Readonly<OwnedTask>>
  /** Why an owned queued task cannot run anywhere, when it is flagged unschedulable. */
  unschedulable(taskId: string): string | undefined
  settled: SettledTask[]
  /** An ended task's record, when it is known here: its status and error, where the log has none. */
  recordOf(taskId: string): { status: TaskStatus; error?: string } | undefined
}

/** The cursor of a listed task: listings are ordered by acceptance time, then id. */
export function cursorOf(t: Pick<ListedTask, 'submittedAt' | 'taskId'>): string {
  return `${t.submittedAt}-${t.taskId}`
}

/** True when `cursor` has the form {@link cursorOf} makes. */
export function isCursor(cursor: string): boolean {
  return /^\d{1,16}-[a-z2-7]{8,200}$/.test(cursor)
}

/**
 * Lists the tasks a node owns: those waiting for dependencies, those in its ledger, and the last
 * ones that ended (see `SettledLog`), oldest accepted first, filtered by state, one page at a time.
 */
export function listTasks(src: TaskListSources, query: TaskListQuery = {}): TaskListPage {
  const wanted = query.states === undefined ? undefined : new Set(query.states)
  const all: ListedTask[] = []
  const add = (t: ListedTask) => {
    if (wanted === undefined || wanted.has(t.state)) all.push(t)
  }
  for (const task of src.waiting)
    add({ ...summary(task), state: 'waiting', reason: 'waiting on dependencies' })
  for (const own of src.owned) {
    const why = own.state === 'queued' ? src.unschedulable(own.entry.task.id) : undefined
    if (why !== undefined) add({ ...summary(own.entry.task), state: 'unschedulable', reason: why })
    else if (own.state === 'retrying')
      add({ ...summary(own.entry.task), state: 'queued', reason: 'waiting to be retried' })
    else add({ ...summary(own.entry.task), state: own.state })
  }
  for (const s of src.settled) {
    const record =
      s.status === undefined || (s.status === 'failed' && s.error === undefined)
        ? src.recordOf(s.task.id)
        : undefined
    const t: ListedTask = {
      ...summary(s.task),
      state: s.status ?? record?.status ?? 'done',
      endedAt: s.endedAt,
    }
    const error = s.error ?? record?.error
    if (error !== undefined) t.reason = error
    if (s.by !== undefined) t.by = s.by
    add(t)
  }
  all.sort(
    (a, b) => a.submittedAt - b.submittedAt || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0),
  )
  const after = query.after === undefined ? undefined : parseCursor(query.after)
  const start =
    after === undefined
      ? 0
      : all.findIndex((t) => t.submittedAt > after.at || (t.submittedAt === after.at && t.taskId > after.id))
  const from = start === -1 ? all.length : start
  const limit = query.limit ?? DEFAULT_LIST_LIMIT
  const tasks = all.slice(from, from + limit)
  const more = from + limit < all.length
  return more ? { tasks, next: cursorOf(tasks[tasks.length - 1]) } : { tasks }
}

function parseCursor(cursor: string): { at: number; id: string } {
  const dash = cursor.indexOf('-')
  return { at: Number(cursor.slice(0, dash)), id: cursor.slice(dash + 1) }
}

function summary(task: Task): Omit<ListedTask, 'state'> {
  return {
    taskId: task.id,
    type: task.spec.type,
    priority: task.spec.priority,
    submitter: task.submitter,
    submittedAt: task.submittedAt,
  }
}

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

/** A task a listing may show: its order key, and the source it is made from once it is on the page. */
interface Candidate {
  at: number
  id: string
  state: ListedState
  make: 'waiting' | 'owned' | 'settled'
  item: Task | Readonly<OwnedTask> | SettledTask
}

/** True when `a` is listed before `b`: earlier acceptance, then smaller id. */
function earlier(a: Pick<Candidate, 'at' | 'id'>, b: Pick<Candidate, 'at' | 'id'>): boolean {
  return a.at < b.at || (a.at === b.at && a.id < b.id)
}

/**
 * Lists the tasks a node owns: those waiting for dependencies, those in its ledger, and the last
 * ones that ended (see `SettledLog`), oldest accepted first, filtered by state, one page at a time.
 * Each page costs one pass over the tasks and a heap of the page's size: only the page's tasks are
 * made (building, sorting and slicing every owned task made a page of a 100,000-task backlog cost
 * 0.36 s, and the dashboard asks twice every 2 s).
 */
export function listTasks(src: TaskListSources, query: TaskListQuery = {}): TaskListPage {
  checkQuery(query)
  const wanted = query.states === undefined ? undefined : new Set(query.states)
  const after = query.after === undefined ? undefined : parseCursor(query.after)
  const limit = query.limit ?? DEFAULT_LIST_LIMIT
  // the `limit + 1` first candidates (one more tells whether a next page exists), latest on top
  const heap: Candidate[] = []
  const consider = (c: Candidate) => {
    if (wanted !== undefined && !wanted.has(c.state)) return
    if (after !== undefined && !earlier(after, c)) return
    if (heap.length <= limit) heapPush(heap, c)
    else if (earlier(c, heap[0])) heapReplaceTop(heap, c)
  }
  for (const task of src.waiting)
    consider({ at: task.submittedAt, id: task.id, state: 'waiting', make: 'waiting', item: task })
  for (const own of src.owned) {
    const task = own.entry.task
    const why = own.state === 'queued' ? src.unschedulable(task.id) : undefined
    const state = why !== undefined ? 'unschedulable' : own.state === 'retrying' ? 'queued' : own.state
    consider({ at: task.submittedAt, id: task.id, state, make: 'owned', item: own })
  }
  for (const s of src.settled) {
    const state = s.status ?? src.recordOf(s.task.id)?.status ?? 'done'
    consider({ at: s.task.submittedAt, id: s.task.id, state, make: 'settled', item: s })
  }
  const page = heap.sort((a, b) => (earlier(a, b) ? -1 : 1))
  const more = page.length > limit
  const tasks = page.slice(0, limit).map((c) => listed(c, src))
  return more ? { tasks, next: cursorOf(tasks[tasks.length - 1]) } : { tasks }
}

/** The listing of one candidate, made once it is on the page. */
function listed(c: Candidate, src: TaskListSources): ListedTask {
  if (c.make === 'waiting')
    return { ...summary(c.item as Task), state: 'waiting', reason: 'waiting on dependencies' }
  if (c.make === 'owned') {
    const own = c.item as Readonly<OwnedTask>
    const task = own.entry.task
    if (c.state === 'unschedulable')
      return { ...summary(task), state: c.state, reason: src.unschedulable(task.id) as string }
    if (own.state === 'retrying')
      return { ...summary(task), state: 'queued', reason: 'waiting to be retried' }
    return { ...summary(task), state: c.state }
  }
  const s = c.item as SettledTask
  const t: ListedTask = { ...summary(s.task), state: c.state, endedAt: s.endedAt }
  const error =
    s.error ?? (s.status === undefined || s.status === 'failed' ? src.recordOf(s.task.id)?.error : undefined)
  if (error !== undefined) t.reason = error
  if (s.by !== undefined) t.by = s.by
  return t
}

/** Pushes onto a max-heap ordered by {@link earlier} (the latest candidate at index 0). */
function heapPush(heap: Candidate[], c: Candidate): void {
  let i = heap.push(c) - 1
  while (i > 0) {
    const up = (i - 1) >> 1
    if (!earlier(heap[up], heap[i])) break
    ;[heap[up], heap[i]] = [heap[i], heap[up]]
    i = up
  }
}

/** Replaces the latest candidate of a max-heap with `c` and restores its order. */
function heapReplaceTop(heap: Candidate[], c: Candidate): void {
  heap[0] = c
  let i = 0
  for (;;) {
    const [l, r] = [2 * i + 1, 2 * i + 2]
    let top = i
    if (l < heap.length && earlier(heap[top], heap[l])) top = l
    if (r < heap.length && earlier(heap[top], heap[r])) top = r
    if (top === i) return
    ;[heap[top], heap[i]] = [heap[i], heap[top]]
    i = top
  }
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

/** Refuses a listing query the HTTP route would refuse. @throws TypeError naming the field and the value */
function checkQuery(query: TaskListQuery): void {
  const { states, limit } = query
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT)) {
    throw new TypeError(
      `listTasks: limit must be an integer from 1 to ${MAX_LIST_LIMIT}, got ${JSON.stringify(limit)}`,
    )
  }
  if (states === undefined) return
  if (!Array.isArray(states)) throw new TypeError(`listTasks: states must be an array, got ${typeof states}`)
  for (const [i, state] of states.entries()) {
    if (!LISTED_STATES.includes(state)) {
      throw new TypeError(`listTasks: states[${i}] "${state}" is not one of ${LISTED_STATES.join(', ')}`)
    }
  }
}

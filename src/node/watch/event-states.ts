import type { TaskEvent } from '../story/task-events.ts'
import type { ListedState } from './task-list.ts'

/**
 * Every task event a node emits (see `TaskEvent.event`), with the state the task is in at this node
 * after it, or `null` for an event that changes no state (`announced`, `stored`, …). `finished`
 * and an accepted `completed` end the task with their record's status.
 */
export const TASK_EVENTS: Readonly<Record<string, ListedState | 'status' | null>> = {
  accepted: null,
  'waiting-on-deps': 'waiting',
  'dependency-failed': 'failed',
  queued: 'queued',
  announced: null,
  adopted: 'queued',
  replayed: 'queued',
  unschedulable: 'unschedulable',
  schedulable: 'queued',
  granted: 'leased',
  stolen: 'leased',
  'renew-rejected': null,
  started: 'running',
  retried: 'queued',
  released: 'queued',
  'lease-expired': 'queued',
  'lease-lost': 'queued',
  dropped: null,
  finished: 'status',
  completed: 'status',
  'completion-stale': null,
  'completion-undelivered': null,
  settled: null,
  stored: null,
  cancelled: 'failed',
  'cancel-forwarded': null,
  superseded: null,
}

/** The state a task is in at this node after `e`, when the event changes it. */
export function stateAfter(e: TaskEvent): ListedState | undefined {
  const state = TASK_EVENTS[e.event]
  if (state === null || state === undefined) return undefined
  if (state !== 'status') return state
  if (e.event === 'completed' && e.detail?.outcome !== 'accepted') return undefined
  const status = e.detail?.status
  return status === 'succeeded' || status === 'failed' ? status : undefined
}

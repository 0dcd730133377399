import type { Json, TaskSpec } from './spec.ts'

/** An accepted task: the spec plus who submitted it, where, and when. */
export interface Task {
  /** Content-derived id (see `taskId`). */
  id: string
  spec: TaskSpec
  /** Peer id (or client name) of the submitter. */
  submitter: string
  /** Makes the id unique among equal specs. */
  nonce: string
  /** Peer id of the node that accepted the submission. */
  owner: string
  /** Unix ms when the owner accepted it. */
  submittedAt: number
}

/** Final state of a task. */
export type TaskStatus = 'succeeded' | 'failed'

/** One attempt at running a task, kept in the result so every error stays visible. */
export interface AttemptRecord {
  executor: string
  epoch: number
  startedAt: number
  finishedAt: number
  error?: string
}

/** What an executor reports when an attempt ends. */
export interface TaskOutcome {
  status: TaskStatus
  output?: Json
  error?: string
}

import type { ResultRecord } from '../protocol/records/result-record.ts'
import type { Task } from '../task/task.ts'

/** Options of one submission. */
export interface SubmitOptions {
  /** Who asked (peer id or client name). @defaultValue this node's peer id */
  submitter?: string
  /** Called once with the result record when it lands. */
  onResult?: (record: ResultRecord) => void
}

/** A submitted task: its id at once, its result when it lands. */
export interface TaskHandle {
  id: string
  task: Task
  /** The `key` its submission item carried, when it was part of a graph. */
  key?: string
  /** Resolves with the result record (waits for the result notice, or the local run). */
  result(signal?: AbortSignal): Promise<ResultRecord>
}

/** A submission taken in: its handles, and what settles once it is safe (journal synced, custodians answered). */
export interface TakenHandles {
  handles: TaskHandle[]
  accepted: Promise<void>
}

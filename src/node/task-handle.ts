import { MAX_PEER_ID_CHARS } from '../protocol/constants.ts'
import type { ResultRecord } from '../protocol/records/result-record.ts'
import { InvalidTaskError } from '../task/errors.ts'
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

/**
 * Refuses submit options of the wrong type: a `submitter` peers would refuse on the wire (the
 * tasks would be accepted, then never stolen), an `onResult` that is no function, a `signal` that is no `AbortSignal`.
 * @throws InvalidTaskError naming the option
 */
export function checkSubmitOptions(opts: SubmitOptions & { signal?: unknown }): void {
  const { submitter, onResult } = opts
  if (
    submitter !== undefined &&
    (typeof submitter !== 'string' || submitter.length === 0 || submitter.length > MAX_PEER_ID_CHARS)
  ) {
    throw new InvalidTaskError(
      `must be a string of 1 to ${MAX_PEER_ID_CHARS} characters, got ${JSON.stringify(submitter)?.slice(0, 40)}`,
      'submitter',
    )
  }
  if (onResult !== undefined && typeof onResult !== 'function') {
    throw new InvalidTaskError(`must be a function, got ${typeof onResult}`, 'onResult')
  }
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) {
    throw new InvalidTaskError(`must be an AbortSignal, got ${typeof opts.signal}`, 'signal')
  }
}

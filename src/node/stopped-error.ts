import { NodeStoppedError } from '../task/errors.ts'

/** The error of a wait for `taskId`'s result that the node's stop ended. */
export function stoppedBeforeResult(taskId: string): NodeStoppedError {
  return new NodeStoppedError(`the node stopped before task ${taskId} had a result`, taskId)
}

/**
 * The error of a call a stopped node cannot serve; `action` says what it was asked, e.g.
 * `cancel task <id>` → `cannot cancel task <id>: the node has stopped`.
 */
export function stoppedFor(action: string, taskId?: string): NodeStoppedError {
  return new NodeStoppedError(`cannot ${action}: the node has stopped`, taskId)
}

/** True for the error a stopped node's waits and calls end with. */
export function isNodeStoppedError(err: unknown): err is NodeStoppedError {
  return err instanceof NodeStoppedError
}

import { RemoteError } from '../protocol/errors.ts'

/** The command did what it was asked: the task succeeded, was accepted, cancelled, shown. */
export const EXIT_OK = 0
/** Usage or bad input, a refusal by the node (nothing queued), or the node could not be reached. */
export const EXIT_ERROR = 1
/** The task ended as failed — cancelled included (`submit --wait`, `result`). */
export const EXIT_TASK_FAILED = 2
/**
 * The task is known but has no result yet: its wait ended first, or the node began to stop
 * (`ERR_STOPPING`) after it accepted the task.
 */
export const EXIT_NO_RESULT = 3
/** No node in reach knows the task id (`result`, `cancel`, `story`). */
export const EXIT_UNKNOWN_TASK = 4

/** The exit codes as the help and the README list them. */
export const EXIT_CODES_HELP = [
  'Exit codes:',
  `  ${EXIT_OK}  success (the task succeeded, was accepted, cancelled or shown)`,
  `  ${EXIT_ERROR}  usage or bad input, a refusal by the node, or no node reached`,
  `  ${EXIT_TASK_FAILED}  the task failed or was cancelled (submit --wait, result)`,
  `  ${EXIT_NO_RESULT}  no result yet: the task is known, its wait ended first (or the daemon began to stop)`,
  `  ${EXIT_UNKNOWN_TASK}  unknown task: no node in reach knows the id (result, cancel, story)`,
].join('\n')

/** The exit code of a command that failed with `err`. */
export function exitCodeOf(err: unknown): number {
  return err instanceof RemoteError && err.code === 'ERR_UNKNOWN_TASK' ? EXIT_UNKNOWN_TASK : EXIT_ERROR
}

/**
 * True for the refusal of a node that began to stop (`ERR_STOPPING`): a wait on a task it accepted
 * ends with no result yet ({@link EXIT_NO_RESULT}), not with a refusal — the task is queued.
 */
export function isStopping(err: unknown): err is RemoteError {
  return err instanceof RemoteError && err.code === 'ERR_STOPPING'
}

import { isTaskId } from '../task/task-id.ts'

/**
 * `id` when it is a task id.
 * @throws TypeError naming `where` and the value, so a typo is refused before anything is sent.
 */
export function checkTaskId(id: unknown, where: string): string {
  if (typeof id !== 'string' || !isTaskId(id)) {
    throw new TypeError(
      `${where}: ${JSON.stringify(id)} is not a task id (a CIDv1 such as "bafkrei…", as returned by submit)`,
    )
  }
  return id
}

import { isTaskId } from '../task/task-id.ts'
import { EXIT_NO_RESULT } from './defaults.ts'
import { openTarget, type TargetOptions } from './target.ts'

/** Flags of `taskmesh result`. */
export interface ResultFlags extends TargetOptions {
  wait: boolean
  waitMs: number
}

/**
 * `taskmesh result <id>`: prints the record as JSON; with `--wait`, waits up to `--wait-ms` for
 * it. Exits {@link EXIT_NO_RESULT} when there is none (yet).
 */
export async function runResult(id: string, flags: ResultFlags): Promise<void> {
  if (!isTaskId(id)) {
    throw new Error(`"${id}" is not a task id (a CIDv1 such as "bafkrei…", as printed by taskmesh submit)`)
  }
  const target = await openTarget(flags)
  try {
    const record = await target.result(id, flags.wait ? flags.waitMs : 0)
    if (record === undefined) {
      console.error(
        flags.wait ? `no result for ${id} within ${flags.waitMs} ms` : `no result for ${id} yet (try --wait)`,
      )
      process.exitCode = EXIT_NO_RESULT
      return
    }
    console.log(JSON.stringify(record, null, 2))
  } finally {
    await target.close()
  }
}

/** `taskmesh status`: prints the node's status as JSON. */
export async function runStatus(flags: TargetOptions): Promise<void> {
  const target = await openTarget(flags)
  try {
    console.log(JSON.stringify(await target.status(), null, 2))
  } finally {
    await target.close()
  }
}

import { isTaskId } from '../task/task-id.ts'
import { EXIT_NO_RESULT } from './defaults.ts'
import { openTarget, type TargetOptions } from './target.ts'

/** Flags of `taskmesh result`. */
export interface ResultFlags extends TargetOptions {
  wait: boolean
  waitMs: number
}

function checkId(id: string): void {
  if (!isTaskId(id)) {
    throw new Error(`"${id}" is not a task id (a CIDv1 such as "bafkrei…", as printed by taskmesh submit)`)
  }
}

/**
 * `taskmesh result <id>`: prints the record as JSON; with `--wait`, waits up to `--wait-ms` for
 * it. When there is none (yet) it prints how the task stands instead —
 * `{"taskId":…,"state":"queued"|"unschedulable"|…,"reason"?:…}` — and exits {@link EXIT_NO_RESULT}.
 */
export async function runResult(id: string, flags: ResultFlags): Promise<void> {
  checkId(id)
  const target = await openTarget(flags)
  try {
    const record = await target.result(id, flags.wait ? { wait: true, timeoutMs: flags.waitMs } : {})
    if (record === undefined) {
      const state = await target.state(id).catch(() => ({ state: 'unknown' }))
      console.log(JSON.stringify({ taskId: id, ...state }))
      const why = 'reason' in state && state.reason !== undefined ? ` (${state.reason})` : ''
      console.error(
        `${flags.wait ? `no result for ${id} within ${flags.waitMs} ms` : `no result for ${id} yet (try --wait)`}: ${state.state}${why}`,
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

/**
 * `taskmesh cancel <id>`: asks the node to cancel the task (it forwards to the task's owner) and
 * prints `{ taskId, outcome: "cancelled" | "finished", owner }`.
 */
export async function runCancel(id: string, flags: TargetOptions): Promise<void> {
  checkId(id)
  const target = await openTarget(flags)
  try {
    console.log(JSON.stringify(await target.cancel(id)))
  } finally {
    await target.close()
  }
}

/** `taskmesh story <id>`: prints the node's decisions about a task, one JSON event per line. */
export async function runStory(id: string, flags: TargetOptions): Promise<void> {
  checkId(id)
  const target = await openTarget(flags)
  try {
    const events = await target.story(id)
    for (const e of events) console.log(JSON.stringify(e))
    if (events.length === 0) console.error(`the node has no story for ${id}`)
  } finally {
    await target.close()
  }
}

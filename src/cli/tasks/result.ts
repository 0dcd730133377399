import type { MeshClient, TaskStateReply } from '../../client/mesh-client.ts'
import type { ResultRecord } from '../../protocol/records/result-record.ts'
import { isTaskId } from '../../task/task-id.ts'
import { EXIT_NO_RESULT, EXIT_TASK_FAILED, EXIT_UNKNOWN_TASK } from '../exit-codes.ts'
import { waitMsOf } from '../flag-errors.ts'
import { openTarget, type TargetOptions } from './target.ts'

/** Flags of `taskmesh result`. */
export interface ResultFlags extends TargetOptions {
  wait: boolean
  waitMs?: number
}

function checkId(id: string): void {
  if (!isTaskId(id)) {
    throw new Error(`"${id}" is not a task id (a CIDv1 such as "bafkrei…", as printed by taskmesh submit)`)
  }
}

/** Says that no node in reach knows `id` and sets {@link EXIT_UNKNOWN_TASK}. */
function unknownTask(id: string): void {
  console.error(`no node in reach knows task ${id} (a typo, another mesh, or a result that expired?)`)
  process.exitCode = EXIT_UNKNOWN_TASK
}

/** Prints a record; a failed (or cancelled) task sets {@link EXIT_TASK_FAILED}. */
export function printRecord(record: ResultRecord, pretty: boolean): void {
  console.log(JSON.stringify(record, null, pretty ? 2 : undefined))
  if (record.status === 'failed') process.exitCode = EXIT_TASK_FAILED
}

/**
 * The task's record: one poll; when there is none, how the task stands — and with `waitMs`, a wait
 * for the record unless no node knows the task (an unknown id does not wait).
 */
export async function lookUp(
  target: Pick<MeshClient, 'result' | 'state'>,
  id: string,
  waitMs: number,
): Promise<{ record: ResultRecord } | { state: TaskStateReply }> {
  const started = Date.now()
  const record = await target.result(id)
  if (record !== undefined) return { record }
  const state = await standing(target, id)
  if ('record' in state || state.state === 'unknown' || waitMs <= 0)
    return 'record' in state ? state : { state }
  const awaited = await target.result(id, {
    wait: true,
    timeoutMs: Math.max(0, waitMs - (Date.now() - started)),
  })
  if (awaited !== undefined) return { record: awaited }
  const after = await standing(target, id)
  return 'record' in after ? after : { state: after }
}

/**
 * How the task stands, after a read found no record: a task that ended between the two (its
 * state `done`) has its record now, read again — not told as "no result yet: done".
 */
async function standing(
  target: Pick<MeshClient, 'result' | 'state'>,
  id: string,
): Promise<TaskStateReply | { record: ResultRecord }> {
  const state = await target.state(id)
  if (state.state !== 'done') return state
  const record = await target.result(id)
  return record === undefined ? state : { record }
}

/**
 * `taskmesh result <id>`: prints the record as JSON (exit 0, or {@link EXIT_TASK_FAILED} when the
 * task failed or was cancelled); with `--wait`, waits up to `--wait-ms` for it. When there is none
 * (yet) it prints how the task stands instead — `{"taskId":…,"state":"queued"|"unschedulable"|…,
 * "reason"?:…}` — and exits {@link EXIT_NO_RESULT}, or {@link EXIT_UNKNOWN_TASK} at once when no
 * node in reach knows the task (`--wait` does not wait for it).
 */
export async function runResult(id: string, flags: ResultFlags): Promise<void> {
  checkId(id)
  const waitMs = waitMsOf(flags)
  const target = await openTarget(flags)
  try {
    const found = await lookUp(target, id, flags.wait ? waitMs : 0)
    if ('record' in found) return printRecord(found.record, true)
    const { state } = found
    console.log(JSON.stringify({ taskId: id, ...state }))
    if (state.state === 'unknown') return unknownTask(id)
    const why = state.reason === undefined ? '' : ` (${state.reason})`
    console.error(
      `${flags.wait ? `no result for ${id} within ${waitMs} ms` : `no result for ${id} yet (try --wait)`}: ${state.state}${why}`,
    )
    process.exitCode = EXIT_NO_RESULT
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
 * prints `{ taskId, outcome: "cancelled" | "finished", owner }`; an unknown task exits
 * {@link EXIT_UNKNOWN_TASK}.
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

/**
 * `taskmesh story <id>`: prints the node's decisions about a task, one JSON event per line. A node
 * with no story of the task says how it stands; no node in reach knows it: {@link EXIT_UNKNOWN_TASK}.
 */
export async function runStory(id: string, flags: TargetOptions): Promise<void> {
  checkId(id)
  const target = await openTarget(flags)
  try {
    const events = await target.story(id)
    for (const e of events) console.log(JSON.stringify(e))
    if (events.length > 0) return
    const { state, reason } = await target.state(id)
    if (state === 'unknown') return unknownTask(id)
    console.error(
      `the node has no story of ${id}; it is ${state}${reason === undefined ? '' : ` (${reason})`}`,
    )
  } finally {
    await target.close()
  }
}

import type { MeshClient, ResultOptions, TaskStateReply } from '../../client/mesh-client.ts'
import { RemoteError } from '../../protocol/errors.ts'
import type { ResultRecord } from '../../protocol/records/result-record.ts'
import { isTaskId } from '../../task/task-id.ts'
import { monotonicNow } from '../../util/clock.ts'
import { EXIT_NO_RESULT, EXIT_TASK_FAILED, EXIT_UNKNOWN_TASK, isStopping } from '../exit-codes.ts'
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

/** What {@link lookUp} found: the record, or how the task stands (and why a wait ended early). */
export type LookedUp =
  | { record: ResultRecord }
  | {
      state: TaskStateReply
      /** The node began to stop during the wait (`ERR_STOPPING`): the task stands as it did before. */
      stopping?: RemoteError
    }

/**
 * The task's record: one poll; when there is none, how the task stands — and with `waitMs`, a wait
 * for the record unless no node knows the task (an unknown id does not wait). A node that began to
 * stop answers a read with no record `ERR_STOPPING`: the task then stands as its state says (read
 * before the wait), with the node's word, and is not waited for.
 */
export async function lookUp(
  target: Pick<MeshClient, 'result' | 'state'>,
  id: string,
  waitMs: number,
): Promise<LookedUp> {
  const started = monotonicNow()
  let stopping: RemoteError | undefined
  const read = (opts?: ResultOptions) =>
    target.result(id, opts).catch((err: unknown) => {
      if (!isStopping(err)) throw err
      stopping = err
      return undefined
    })
  const record = await read()
  if (record !== undefined) return { record }
  const state = await standing(target, id)
  if ('record' in state) return state
  if (state.state === 'unknown' || waitMs <= 0 || stopping !== undefined) return told(state, stopping)
  const awaited = await read({ wait: true, timeoutMs: Math.max(0, waitMs - (monotonicNow() - started)) })
  if (awaited !== undefined) return { record: awaited }
  if (stopping !== undefined) return told(state, stopping)
  const after = await standing(target, id)
  return 'record' in after ? after : { state: after }
}

/** A state {@link lookUp} found, with the stopping node's word when it said so. */
function told(state: TaskStateReply, stopping: RemoteError | undefined): LookedUp {
  return stopping === undefined ? { state } : { state, stopping }
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
 * node in reach knows the task (`--wait` does not wait for it). A wait the node ends as it begins
 * to stop (`ERR_STOPPING`) exits {@link EXIT_NO_RESULT} too: the task stands, its result not in.
 */
export async function runResult(id: string, flags: ResultFlags): Promise<void> {
  checkId(id)
  const waitMs = waitMsOf(flags)
  const target = await openTarget(flags)
  try {
    const found = await lookUp(target, id, flags.wait ? waitMs : 0)
    if ('record' in found) return printRecord(found.record, true)
    const { state, stopping } = found
    console.log(JSON.stringify({ taskId: id, ...state }))
    if (state.state === 'unknown') return unknownTask(id)
    const why = state.reason === undefined ? '' : ` (${state.reason})`
    const after =
      stopping !== undefined
        ? `no result for ${id} yet (${state.state}${why}): ${stopping.message} (${stopping.code})`
        : `${flags.wait ? `no result for ${id} within ${waitMs} ms` : `no result for ${id} yet (try --wait)`}: ${state.state}${why}`
    console.error(after)
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
 * prints `{ taskId, outcome: "cancelled" | "finished", owner }`; an unknown task is said as
 * `result` says it (no node in reach knows it) and exits {@link EXIT_UNKNOWN_TASK}.
 */
export async function runCancel(id: string, flags: TargetOptions): Promise<void> {
  checkId(id)
  const target = await openTarget(flags)
  try {
    console.log(JSON.stringify(await target.cancel(id)))
  } catch (err) {
    // said as `result` and `story` say it: the node asked the mesh, not only itself
    if (err instanceof RemoteError && err.code === 'ERR_UNKNOWN_TASK') return unknownTask(id)
    throw err
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

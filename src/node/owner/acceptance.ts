import { QueueFullError } from '../../task/errors.ts'
import type { Task } from '../../task/task.ts'
import type { LimitWatch } from '../telemetry/limit-watch.ts'
import type { TaskControl } from './cancellation.ts'
import type { Intake } from './intake.ts'
import type { PreparedTask } from './submission.ts'

/** What taking a submission in uses of the node. */
export interface AcceptanceParts {
  intake: Pick<Intake, 'accept'>
  limitWatch: Pick<LimitWatch, 'refused'>
  /** Hands tasks to the node's custodians; resolves once they answered (or the wait ran out). */
  announce(tasks: Task[]): Promise<void>
  /** True when the task has ended here (its result is known): it needs no custodian. */
  ended(taskId: string): boolean
  /** Cancels the tasks of a submission whose journal entry could not be written. */
  control: Pick<TaskControl, 'cancel'>
}

/**
 * How long a submission whose submitter waits for the results keeps its tasks from the custodians,
 * ms: those whose results are in by then are never handed over (a quick task's custody costs the
 * owner and both custodians two frames each way, dropped again at once); the rest are handed over
 * then, or when the wait ends if sooner — no answer without a result leaves before they are held.
 */
export const CUSTODY_GRACE_MS = 50

/** A submission taken in: its tasks, and when they are safe. */
export interface TakenSubmission {
  /** The tasks, queued or waiting on their dependencies, in submission order. */
  prepared: PreparedTask[]
  /**
   * Settles once the submission's journal entry is synced and its custodians answered: from then
   * on the tasks survive a crash of this node and the loss of its machine. Rejects when the
   * journal failed.
   */
  accepted: Promise<void>
}

/**
 * Takes a submission in: checked whole (nothing queued when it is refused), queued, journalled and
 * handed to the custodians. Resolves once the tasks are taken; `accepted` tells when they are safe.
 * @param opts.custodyAfter - for a submitter that waits for the results: hand the custodians, and
 *   the journal, the tasks still without a result once this settles, not every task at once (see
 *   {@link CUSTODY_GRACE_MS}).
 * @throws InvalidTaskError / UnknownHandlerError / QueueFullError — nothing is queued.
 */
export async function takeSubmission(
  parts: AcceptanceParts,
  specs: unknown[],
  submitter: string,
  opts: { custodyAfter?: Promise<unknown> } = {},
): Promise<TakenSubmission> {
  let prepared: PreparedTask[]
  let journalled: Promise<void>
  try {
    ;({ tasks: prepared, journalled } = await parts.intake.accept(specs, submitter, {
      journalAfter: opts.custodyAfter,
    }))
  } catch (err) {
    if (err instanceof QueueFullError) parts.limitWatch.refused('queue_full')
    throw err
  }
  const tasks = prepared.map((p) => p.task)
  // A submission that waits for its results hands the custodians and the journal only what has not
  // ended by the time `custodyAfter` settles: a task answered by then needs no custody and no entry,
  // and a quick one's frames, write and fsync no longer go ahead of its answer. The journal's fsync
  // and the custodians' acknowledgement overlap: acceptance waits for the slower of the two, not
  // their sum (with a data dir, accepted tasks survive a crash from here on).
  const held =
    opts.custodyAfter === undefined
      ? parts.announce(tasks)
      : opts.custodyAfter.then(() => parts.announce(tasks.filter((t) => !parts.ended(t.id))))
  const kept = journalled.catch((err: Error) => withdraw(parts, tasks, err))
  const accepted = Promise.all([kept, held]).then(() => undefined)
  return { prepared, accepted }
}

/**
 * A submission whose journal entry could not be written (a full disk, a journal made unwritable)
 * is not accepted: its submitter is told so, and may send it again — so its tasks must not run
 * here as well. Cancels them (those that ended meanwhile are said) and rejects with the journal's
 * error, its `code` kept.
 */
async function withdraw(parts: AcceptanceParts, tasks: Task[], err: Error): Promise<never> {
  const ended = tasks.filter((t) => parts.ended(t.id)).length
  await Promise.allSettled(tasks.map((t) => parts.control.cancel(t.id, { forwarded: true })))
  const cancelled = `${tasks.length - ended} of its ${tasks.length} tasks cancelled`
  const message = `${err.message}: the submission is not accepted, ${cancelled}${ended > 0 ? ` (${ended} had ended)` : ''}`
  throw Object.assign(new Error(message, { cause: err }), { code: (err as NodeJS.ErrnoException).code })
}

/**
 * The moment a submission that waits for its results hands the custodians what has not ended (see
 * {@link CUSTODY_GRACE_MS}): after `ms`, or as soon as `signal` aborts (the wait ended) if sooner.
 * Never rejects.
 */
export function custodyGrace(signal: AbortSignal, ms = CUSTODY_GRACE_MS): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve()
    const end = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', end)
      resolve()
    }
    const timer = setTimeout(end, ms)
    signal.addEventListener('abort', end, { once: true })
  })
}

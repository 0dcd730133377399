import { QueueFullError } from '../../task/errors.ts'
import type { Task } from '../../task/task.ts'
import { nextTurn } from '../../util/in-turns.ts'
import type { LimitWatch } from '../telemetry/limit-watch.ts'
import type { Intake } from './intake.ts'
import type { PreparedTask } from './submission.ts'

/** What taking a submission in uses of the node. */
export interface AcceptanceParts {
  intake: Pick<Intake, 'accept'>
  limitWatch: Pick<LimitWatch, 'refused'>
  ledger: { journalled(): Promise<void> }
  /** Hands tasks to the node's custodians; resolves once they answered (or the wait ran out). */
  announce(tasks: Task[]): Promise<void>
}

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
 * @param opts.custodyAfterTurn - hand the tasks to the custodians at the end of this turn of the
 *   event loop (for a submitter that waits for the results), not at once.
 * @throws InvalidTaskError / UnknownHandlerError / QueueFullError — nothing is queued.
 */
export async function takeSubmission(
  parts: AcceptanceParts,
  specs: unknown[],
  submitter: string,
  opts: { custodyAfterTurn?: boolean } = {},
): Promise<TakenSubmission> {
  let prepared: PreparedTask[]
  try {
    prepared = await parts.intake.accept(specs, submitter)
  } catch (err) {
    if (err instanceof QueueFullError) parts.limitWatch.refused('queue_full')
    throw err
  }
  const tasks = prepared.map((p) => p.task)
  // A submission that waits for its results hands its tasks to the custodians after this turn of
  // the event loop: a task that ends within the turn is answered first (the custody frames' writes
  // would go ahead of its answer on this thread); one that does not is held a moment later. The
  // journal's fsync and the custodians' acknowledgement overlap: acceptance waits for the slower
  // of the two, not their sum (with a data dir, accepted tasks survive a crash from here on).
  const held =
    opts.custodyAfterTurn === true ? nextTurn().then(() => parts.announce(tasks)) : parts.announce(tasks)
  const accepted = Promise.all([parts.ledger.journalled(), held]).then(() => undefined)
  return { prepared, accepted }
}

import { TaskControl, type TaskControlOptions } from './owner/cancellation.ts'
import type { Intake } from './owner/intake.ts'
import type { UnschedulableWatch } from './owner/unschedulable.ts'
import type { LivenessWatch } from './peers/liveness-watch.ts'
import type { Custodian } from './recovery/custodian.ts'
import { type TakeoverCancelOptions, takeOverToCancel } from './recovery/takeover-cancel.ts'
import type { ResultPublisher } from './results/result-publisher.ts'

/** What {@link assembleControl} builds cancellation and task state from. */
export interface ControlInputs
  extends Pick<
    TaskControlOptions,
    | 'self'
    | 'ledger'
    | 'thief'
    | 'results'
    | 'events'
    | 'forwardCancel'
    | 'askState'
    | 'searchOwner'
    | 'surveyTask'
  > {
  runner: TaskControlOptions['runner'] & TakeoverCancelOptions['runner']
  intake: Intake
  publisher: ResultPublisher
  unschedulable: UnschedulableWatch
  custodian: Pick<Custodian, 'owner' | 'leftHere'>
  liveness: Pick<LivenessWatch, 'isDead'>
  /** True for a task journalled here whose replay has not taken it back yet (see `JournalReplay`). */
  replaying?(taskId: string): boolean
  /** Takes such a task back now, for a cancel. */
  takeBack?(taskId: string): Promise<void>
}

/**
 * Cancellation and task state (`TaskControl`): forwarded to the task's owner (asking the connected
 * peers for it if need be); when that owner cannot be reached, to the node that took the task over,
 * else carried out here as the lease holder a dead owner's custodians leave the task to.
 */
export function assembleControl(c: ControlInputs): TaskControl {
  const { self, thief, runner, results, events, publisher, custodian, liveness } = c
  return new TaskControl({
    ...{ self, ledger: c.ledger, runner, thief, results, events, publisher },
    unschedulable: c.unschedulable,
    gate: {
      has: (id) => c.intake.gate.has(id),
      missing: (id) => c.intake.gate.missing(id),
      floor: (id) => c.intake.floorOf(id),
      cancel: (id) => c.intake.cancelWaiting(id),
    },
    guardedOwner: (id) => custodian.owner(id),
    ...{ replaying: c.replaying, takeBack: c.takeBack },
    isDead: (peer) => liveness.isDead(peer),
    ...{ forwardCancel: c.forwardCancel, askState: c.askState },
    ...{ searchOwner: c.searchOwner, surveyTask: c.surveyTask },
    takeOver: (id) =>
      takeOverToCancel({ self, thief, runner, custodian, liveness, results, publisher, events }, id),
  })
}

import { RemoteError } from '../../protocol/errors.ts'
import { OwnerDownError } from '../../task/errors.ts'
import type { TaskEvents } from '../story/task-events.ts'
import type { Thief } from '../thief/thief.ts'
import type { CancelResult, TaskState } from './cancellation.ts'
import type { TaskSurvey } from './owner-search.ts'

/** Options of {@link OwnerDown}. */
export interface OwnerDownOptions {
  events: TaskEvents
  /** Leases held here: a lease of the unreachable owner ends here once the task's taker cancelled it. */
  thief: Pick<Thief, 'entry' | 'dropLease'>
  /** Asks the connected peers how a task stands, after its owner `down` could not be reached. */
  surveyTask?(taskId: string, down: string): Promise<TaskSurvey | undefined>
  /** Sends the cancel on to a node (marked forwarded: it acts from what it knows). */
  forwardCancel(peer: string, taskId: string): Promise<CancelResult>
  /** Asks a node how the task stands. */
  askState(peer: string, taskId: string): Promise<TaskState>
  /**
   * Cancels, as the node that takes it over, a task this node runs under the lease of the dead
   * owner, when no other node will take it over (see `takeOverToCancel`); undefined when this node
   * is not that node.
   */
  takeOver?(taskId: string): Promise<CancelResult | undefined>
}

/** True when `err` is a node's own answer (an `error` reply), not a failure to reach it. */
export function answered(err: unknown): boolean {
  return err instanceof RemoteError
}

/**
 * What a node does when the owner of a task it was asked about cannot be reached — it died, and
 * its custodians may not have adopted its tasks yet, or a lease holder of it runs the task on. Only
 * an owner decides about a task; once the owner is dead, the node that took the task over is its
 * owner. So a cancel goes to a node that took it over (found by asking the connected peers), else
 * is carried out by the lease holder that the dead owner's custodians leave the task to (this node
 * or, asked in turn, a lease holder that answered), else fails with `OwnerDownError`: nobody can
 * decide yet. A state question is answered by the node that took the task over, else by a node
 * that runs it.
 */
export class OwnerDown {
  constructor(private readonly opts: OwnerDownOptions) {}

  /** Cancels a task whose owner `down` could not be reached (`cause`: why). */
  async cancel(taskId: string, down: string, cause: unknown): Promise<CancelResult> {
    const { events, forwardCancel } = this.opts
    const survey = await this.survey(taskId, down)
    const taker = survey?.taker?.owner
    if (taker !== undefined) {
      events.emit(taskId, 'cancel-forwarded', { to: taker })
      try {
        const done = await forwardCancel(taker, taskId)
        // a lease of the dead owner held here: its run would lose to the taker's record
        const held = this.opts.thief.entry(taskId)
        if (done.outcome === 'cancelled' && held?.task.owner === down)
          this.opts.thief.dropLease(taskId, 'cancelled')
        return done
      } catch (err) {
        if (answered(err)) throw err // the taker's own refusal
      }
    }
    const mine = await this.opts.takeOver?.(taskId)
    if (mine !== undefined) return mine
    // a lease holder may be the node the dead owner's custodians leave the task to
    const holders = (survey?.holders ?? []).filter((h) => h.state.state !== 'unknown')
    if (holders.length > 0) {
      for (const { peer } of holders) events.emit(taskId, 'cancel-forwarded', { to: peer })
      const done = await Promise.any(holders.map((h) => forwardCancel(h.peer, taskId))).catch(() => undefined)
      if (done !== undefined) return done
    }
    throw new OwnerDownError(down, taskId, { cause })
  }

  /**
   * How a task stands whose owner `down` could not be asked: the answer of the node that took it
   * over, else of a node that runs it under `down`'s lease, else `fallback`.
   */
  async state(taskId: string, down: string, fallback: TaskState): Promise<TaskState> {
    const survey = await this.survey(taskId, down)
    const taker = survey?.taker
    if (taker?.state !== undefined) return taker.state
    if (taker !== undefined) return this.opts.askState(taker.owner, taskId).catch(() => fallback)
    return survey?.holders.find((h) => h.state.state !== 'unknown')?.state ?? fallback
  }

  private survey(taskId: string, down: string): Promise<TaskSurvey | undefined> {
    return this.opts.surveyTask?.(taskId, down).catch(() => undefined) ?? Promise.resolve(undefined)
  }
}

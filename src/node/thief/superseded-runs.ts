import type { ResultNotice } from '../../protocol/messages/messages.ts'
import { resultKey } from '../../protocol/records/result-record.ts'
import type { LivenessWatch } from '../peers/liveness-watch.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { RunEntry } from '../run/task-runner.ts'
import type { TaskEvents } from '../story/task-events.ts'
import type { Thief } from './thief.ts'

/** Options of {@link SupersededRuns}. */
export interface SupersededRunsOptions {
  self: string
  thief: Pick<Thief, 'entry' | 'dropLease'>
  /** Which peers this node declared dead: only a dead owner's leases are ended here. */
  liveness: Pick<LivenessWatch, 'isDead'>
  results: Pick<ResultStore, 'open' | 'accept'>
  /** The record value a peer holds for a task, read from that peer (unverified). */
  readFrom(peer: string, taskId: string): Promise<Uint8Array | undefined>
  events: TaskEvents
}

/**
 * Ends the runs of held tasks that can no longer count. A live owner revokes a lease itself (the
 * holder's next renewal is rejected), but a task held here under the lease of an owner declared
 * dead goes on running until its end, its renewals unanswered — also once the node that took the
 * task over cancelled it or ran it. A result notice naming a record of such a task under an epoch
 * above the lease's tells of a record that beats anything this run would sign (the highest epoch
 * wins everywhere): the record is read from the notice's sender and checked, kept here (so this
 * node answers with it), and the lease is dropped — the run is aborted, its outcome dropped.
 */
export class SupersededRuns {
  constructor(private readonly opts: SupersededRunsOptions) {}

  /** A peer stored results (a result notice, either topic). */
  onResultNotice(from: string, msg: ResultNotice): void {
    for (const { taskId, epoch, executor } of msg.results) {
      const entry = this.opts.thief.entry(taskId)
      if (entry === undefined || epoch <= entry.epoch || (executor ?? from) === this.opts.self) continue
      if (!this.opts.liveness.isDead(entry.task.owner)) continue // its owner revokes the lease itself
      void this.check(from, taskId, entry)
    }
  }

  private async check(from: string, taskId: string, entry: RunEntry): Promise<void> {
    const { thief, results } = this.opts
    try {
      const value = await this.opts.readFrom(from, taskId)
      if (value === undefined) return
      const record = results.open(value, resultKey(taskId), from)
      if (record.epoch <= entry.epoch || thief.entry(taskId) !== entry) return
      results.accept(record, value)
      this.opts.events.emit(taskId, 'superseded', { epoch: record.epoch, by: record.executor })
      thief.dropLease(taskId, 'superseded by a later record')
    } catch {
      // unreadable or refused: the run goes on
    }
  }
}

import type { Json } from '../../task/spec.ts'
import type { Task } from '../../task/task.ts'
import { monotonicNow } from '../../util/clock.ts'
import type { RunEntry } from '../run/task-runner.ts'
import { LeaseLedger } from './lease-ledger.ts'
import type { OwnedState, Ownership, Poisoned } from './owned-task.ts'

/** The error of a run its node crashed in (an error nobody caught ended the process). */
export const CRASHED = 'executor lost: its node crashed'

export { type OwnerLedgerOptions, SETTLED_MEMORY } from './ledger-book.ts'
export type { OwnedState, OwnedTask, Ownership, Poisoned, Released } from './owned-task.ts'

/**
 * The owner side of the mesh: the tasks this node accepted and has no result for, and the
 * leases it granted on them. Every change of an owned task's state goes through one of its named
 * operations, which tell the node's `TaskEvents` what they decided. It serves the steal
 * protocol (grant, renew, complete, release), takes expired or lost leases back into the queue,
 * hands back the tasks that lost too many executors (poison) for their owner to end as failed,
 * journals what it owns, and fences what it learns: only the current lease's holder and epoch
 * complete a task, and a record the owner knows to be stale never becomes the one its waiters see.
 *
 * It is written in three layers: `LedgerBook` (ledger-book.ts: what it holds, the reads, and the
 * moves both sides share), `LeaseLedger` (lease-ledger.ts: the steal protocol's side, leases lost
 * and fencing) and this class (ownership: take, journal, run, retry, settle, cancel).
 */
export class OwnerLedger extends LeaseLedger {
  private acceptWrite: Promise<void> = Promise.resolve()
  /** Tasks taken whose journal entry waits (see {@link journalLater}). */
  private readonly unjournaled = new Set<string>()

  /**
   * Takes a task into ownership and queues it; false when it is owned already. A `submitted` or
   * `adopted` task is journalled (see {@link journalled}); a `replayed` one is in the journal
   * already. With `floor`, every epoch this node allocates for the task is above it (an adopted or
   * replayed task may have leases of an earlier owner still out). `dependencies` are the outputs of
   * the task's dependencies, when it waited for them here. `journalled`: the task went into the
   * journal already, with its whole submission ({@link journalAll}).
   */
  take(
    task: Task,
    opts: { as?: Ownership; floor?: number; dependencies?: Record<string, Json>; journalled?: boolean } = {},
  ): boolean {
    if (this.owned.has(task.id)) return false
    const as = opts.as ?? 'submitted'
    const { counters, events, journal } = this.opts
    if (as === 'submitted') counters.accepted++
    else if (as === 'adopted') counters.adopted++
    else counters.replayed++
    const floor = opts.floor ?? 0
    if (floor > 0) this.leases.advanceTo(task.id, floor)
    // a replayed task keeps the runs its owner's stop cut short
    const attempts = as === 'replayed' ? [...(journal?.attemptsOf(task.id) ?? [])] : []
    // runs its node crashed in (journalled as lost) count as executors lost
    const lost = attempts.filter((a) => a.cut === 'lost').length
    if (lost > 0) this.losses.set(task.id, lost)
    const entry: RunEntry = { task, epoch: 0, attempts, dependencies: opts.dependencies ?? {} }
    this.owned.set(task.id, { entry, state: 'queued', floor })
    this.settled.delete(task.id)
    if (as !== 'replayed' && opts.journalled !== true) this.journalAll([task])
    const deps = opts.dependencies === undefined ? undefined : Object.keys(opts.dependencies).length
    events.emit(task.id, 'queued', deps === undefined ? undefined : { dependencies: deps })
    this.opts.queue.enqueue(task, true)
    return true
  }

  /**
   * Journals tasks about to be taken, in one group commit: a submission taken over several turns
   * (`Intake`) is one write, not one per turn. Take them with `{ journalled: true }`.
   */
  journalAll(tasks: Task[]): Promise<void> {
    const { journal } = this.opts
    if (journal === undefined || tasks.length === 0) return Promise.resolve()
    const write = journal.accept(tasks)
    write.catch((err: Error) => this.opts.onJournalError?.(err))
    this.acceptWrite = write
    return write
  }

  /**
   * {@link journalAll} once `after` settles, for those of `tasks` still without a result then: a
   * task whose result came first needs no entry, nor a `done` (for a submitter that waits for the
   * results, as custody waits: see `CUSTODY_GRACE_MS`). Take them with `{ journalled: true }`.
   * Resolves once their entry is written (at once when none is needed).
   */
  journalLater(tasks: Task[], after: Promise<unknown>): Promise<void> {
    if (this.opts.journal === undefined || tasks.length === 0) return Promise.resolve()
    for (const task of tasks) this.unjournaled.add(task.id)
    // however `after` settles: a task taken is journalled, never left waiting for an entry
    const write = () => this.journalAll(tasks.filter((task) => this.unjournaled.delete(task.id)))
    return after.then(write, write)
  }

  /** A task of {@link journalLater} that ended before its entry was written leaves no `done` either. */
  protected override journalDone(taskId: string): void {
    if (!this.unjournaled.delete(taskId)) super.journalDone(taskId)
  }

  /** Resolves once every task taken so far is in the journal (at once without one); rejects when that write failed. */
  journalled(): Promise<void> {
    return this.acceptWrite
  }

  /** Resolves once the journal has taken every write so far. */
  async flushJournal(): Promise<void> {
    await this.opts.journal?.flush()
  }

  /** The tasks the journal holds as accepted and not done, in acceptance order (none without one). */
  async journalTasks(): Promise<Task[]> {
    return (await this.opts.journal?.replay()) ?? []
  }

  /**
   * A task that waited here for its dependencies ended without being taken (a dependency failed, or
   * it was cancelled): the journal hears `done` once its record, published next, is in the local
   * store (no entry at all when it ended before its entry was written: see {@link journalLater}).
   */
  endWaiting(taskId: string): void {
    if (this.opts.journal === undefined) return
    void this.opts.results.whenPublished(taskId).then(() => this.journalDone(taskId))
  }

  /** Records that a journalled task has a result (e.g. one found in the local store at replay). */
  markDone(taskId: string): void {
    this.journalDone(taskId)
  }

  /** Marks an owned task as running here under a new epoch; undefined when not owned. */
  beginRun(taskId: string): RunEntry | undefined {
    const own = this.owned.get(taskId)
    if (own === undefined) return undefined
    own.state = 'running'
    own.since = monotonicNow()
    own.entry.epoch = this.leases.nextEpoch(taskId)
    return own.entry
  }

  /** An attempt of the owner's own run failed and will be retried after a backoff. */
  retryLater(taskId: string): void {
    const own = this.owned.get(taskId)
    if (own !== undefined) own.state = 'retrying'
  }

  /**
   * The backoff of a retry is over: the task is queued again (stealable) — unless it was settled,
   * poisoned, cancelled or taken over meanwhile (`entry` is no longer its entry). True when queued.
   */
  retryNow(entry: RunEntry): boolean {
    const own = this.owned.get(entry.task.id)
    if (own === undefined || own.entry !== entry || own.state !== 'retrying') return false
    this.requeue(entry.task.id)
    return true
  }

  /**
   * This node stops while its own run of the task is under way: the run joins the attempts, in the
   * journal too (the task stays open there and is run again after a restart, or by its successor).
   * `crashed`: the process met an error nobody caught, which the run may have caused — it is
   * journalled as an executor lost (`cut: 'lost'`), counted against `maxExecutorLosses` at replay.
   */
  interrupt(taskId: string, crashed = false): void {
    const own = this.owned.get(taskId)
    if (own === undefined || own.state !== 'running') return
    const run = crashed
      ? this.cutRun(own, undefined, own.entry.epoch, 'lost', CRASHED)
      : this.cutRun(own, undefined, own.entry.epoch, 'interrupted', 'interrupted: its node stopped')
    own.entry.attempts.push(run)
    if (this.unjournaled.has(taskId)) return // its entry, if it gets one, carries no runs: it runs again
    this.opts.journal?.attempt(taskId, run).catch((err: Error) => this.opts.onJournalError?.(err))
  }

  /**
   * Of replayed `tasks`, those whose node crashed in as many of their runs as `maxExecutorLosses`
   * allows (see {@link interrupt}): each leaves the queue, to be ended as failed (`poison: lost n
   * executors`) instead of crashing the node once more.
   */
  poisonLost(tasks: readonly Task[]): Poisoned[] {
    const poisoned: Poisoned[] = []
    for (const { id } of tasks) {
      const own = this.owned.get(id)
      const n = this.lossesOf(id)
      if (own?.state === 'queued' && n >= this.maxLosses) this.poison(id, own, n, poisoned)
    }
    return poisoned
  }

  /**
   * The owner's own run of a task produced its result (or the owner ended it): the task is settled;
   * the journal hears `done` once the record is in the local store.
   */
  settle(taskId: string, epoch: number): void {
    if (!this.owned.has(taskId)) return
    // the record is published here next (the publisher settles, then publishes; a cancel's caller
    // publishes the cancel record): the journal waits for that local copy
    const stored = this.opts.journal && (() => this.opts.results.whenPublished(taskId))
    this.finalize(taskId, epoch, undefined, stored)
  }

  /**
   * Ends an owned task as cancelled: out of the queue, its lease dropped (the holder's next renewal
   * is rejected), settled under an epoch above every one allocated for it, so a late result of any
   * earlier epoch is stale. A run cut short (leased out, or running here) joins the attempts.
   * Returns the entry and that epoch (to publish), or undefined when not owned.
   */
  cancel(taskId: string): { entry: RunEntry; epoch: number; state: OwnedState } | undefined {
    const own = this.owned.get(taskId)
    if (own === undefined) return undefined
    const lease = own.state === 'leased' ? this.leases.get(taskId) : undefined
    if (lease !== undefined) {
      own.entry.attempts.push(this.cutRun(own, lease.holder, lease.epoch, 'cancelled', 'cancelled'))
    } else if (own.state === 'running') {
      own.entry.attempts.push(this.cutRun(own, undefined, own.entry.epoch, 'cancelled', 'cancelled'))
    }
    // above every epoch allocated: the entry's and, for a task taken over, the earlier ownership's
    const epoch = Math.max(own.entry.epoch, own.floor - 1) + 1
    this.opts.queue.remove(taskId)
    this.settle(taskId, epoch)
    this.opts.events.emit(taskId, 'cancelled', { state: own.state, epoch })
    return { entry: own.entry, epoch, state: own.state }
  }
}

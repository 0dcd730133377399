import { LeaseTable } from '../../policy/leases.ts'
import type { NodeOffer } from '../../policy/types.ts'
import type { GrantSigner } from '../../protocol/records/grant-proof.ts'
import type { AttemptCut, Task } from '../../task/task.ts'
import { wallTimeOf } from '../../util/clock.ts'
import { trimOldest } from '../../util/trim-oldest.ts'
import type { NodeCounters } from '../node-counters.ts'
import { DEFAULT_MAX_EXECUTOR_LOSSES } from '../options.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { LocalQueue } from '../run/local-queue.ts'
import type { RunEntry } from '../run/task-runner.ts'
import type { TaskEvents } from '../story/task-events.ts'
import type { TaskJournal } from './journal.ts'
import type { OwnedTask, Poisoned } from './owned-task.ts'

/** Settled tasks whose final epoch the owner remembers, to call late completions stale. */
export const SETTLED_MEMORY = 50_000

/** Options of the `OwnerLedger`. */
export interface OwnerLedgerOptions {
  /** This node's peer id (the executor of its own runs). */
  self: string
  /** The node's queue: owned tasks wait there (stealable) for a slot or a thief. */
  queue: LocalQueue
  /** Keeps the records that completions carry, and fences the records learnt from peers. */
  results: Pick<ResultStore, 'keep' | 'whenPublished' | 'admit' | 'open'>
  /** The node's counters (`accepted`, `adopted`, `replayed`, `tasksGranted`, `leasesExpired`, …). */
  counters: NodeCounters
  /** Where the ledger tells what it decided about each task. */
  events: TaskEvents
  /** Lease time-to-live granted to thieves, ms. */
  leaseTtlMs: number
  /** This node's slots (its side of the grant size). */
  slots: number
  /** This node's speed factor (its side of the grant size). */
  speed: number
  /**
   * What this node runs: its own slots count as draining its queue only for a thief whose tasks
   * it runs too (see `Drainers`). @defaultValue whatever a thief runs
   */
  offer?: NodeOffer
  /**
   * The owner's journal (with a data dir): accepted tasks are written before the submitter hears
   * "accepted", and `done` once a result exists. @defaultValue none (nothing survives a restart)
   */
  journal?: Pick<TaskJournal, 'accept' | 'done' | 'replay' | 'flush' | 'attempt' | 'attemptsOf'>
  /**
   * True for a peer this node leases its tasks to (with an allow-list, only the listed peers and
   * itself: see `ownerFilter`). Any other peer's steal is granted nothing, and its renewals,
   * completions and releases change nothing (it holds no lease). @defaultValue every peer
   */
  leasesTo?(peer: string): boolean
  /** Signs a grant proof for every lease granted (the thief's record must carry it). */
  grants: Pick<GrantSigner, 'signAll'>
  /** Executors a task may lose before it ends as failed. @defaultValue DEFAULT_MAX_EXECUTOR_LOSSES */
  maxExecutorLosses?: number
  /** A journal write failed (the task still runs; it may not survive a restart). */
  onJournalError?(err: Error): void
  /** An owned task has a result and leaves the ledger (`by`: the thief whose completion settled it). */
  onSettled?(task: Task, by: string | undefined): void
}

/** A settled task as the owner remembers it. */
export interface Settled {
  epoch: number
  /** The thief whose completion was accepted; undefined for a run of the owner's own. */
  executor: string | undefined
}

/**
 * What the `OwnerLedger` holds — the owned tasks, the leases granted on them, the executors
 * each lost, the final epochs of the settled ones — with the reads of it and the moves both of its
 * sides share (requeue, lose, finalize). The ledger's operations live in its two layers above:
 * `LeaseLedger` (the steal protocol's side) and `OwnerLedger` (ownership: take, run, settle, cancel).
 */
export abstract class LedgerBook {
  protected readonly owned = new Map<string, OwnedTask>()
  protected readonly leases = new LeaseTable()
  protected readonly losses = new Map<string, number>()
  protected readonly settled = new Map<string, Settled>()
  protected readonly maxLosses: number

  constructor(protected readonly opts: OwnerLedgerOptions) {
    this.maxLosses = opts.maxExecutorLosses ?? DEFAULT_MAX_EXECUTOR_LOSSES
    if (!Number.isInteger(this.maxLosses) || this.maxLosses < 1) {
      throw new RangeError(`maxExecutorLosses must be a positive integer, got ${this.maxLosses}`)
    }
  }

  /** Tasks this node owns that have no result yet. */
  get size(): number {
    return this.owned.size
  }

  /** Leases granted to thieves and still live. */
  get leasedOut(): number {
    return this.leases.size
  }

  /** The tasks this node owns and has no result for, as the ledger holds them (read only). */
  ownedTasks(): IterableIterator<Readonly<OwnedTask>> {
    return this.owned.values()
  }

  /** Every task this node owns and has no result for (what its custodians must hold). */
  tasks(): Task[] {
    return [...this.owned.values()].map((own) => own.entry.task)
  }

  /** True when `peer` holds a live lease on a task of this node. */
  leasesHeldBy(peer: string): boolean {
    return this.leases.taskIdsHeldBy(peer).size > 0
  }

  /** Live leases `peer` holds on this node's tasks that were granted at or after `since` (ms). */
  leasedSince(peer: string, since: number): number {
    let n = 0
    for (const taskId of this.leases.taskIdsHeldBy(peer))
      if ((this.owned.get(taskId)?.since ?? 0) >= since) n++
    return n
  }

  /** True when the task was taken over here (adopted or replayed): a record of it may lose to another run. */
  takenOver(taskId: string): boolean {
    return (this.owned.get(taskId)?.floor ?? 0) > 0
  }

  /** True when this node owns the task and has no result for it yet. */
  has(taskId: string): boolean {
    return this.owned.has(taskId)
  }

  /** The live record of an owned task (read only: its state moves through the ledger's operations). */
  get(taskId: string): Readonly<OwnedTask> | undefined {
    return this.owned.get(taskId)
  }

  /** True when `entry` is the owned task's current run entry (not one of an earlier ownership). */
  isCurrent(entry: RunEntry): boolean {
    return this.owned.get(entry.task.id)?.entry === entry
  }

  /** Executors the task has lost so far (expired or lost leases). */
  lossesOf(taskId: string): number {
    return this.losses.get(taskId) ?? 0
  }

  /**
   * A lease was lost (expired, or its holder died): the run it covered joins the attempts, and the
   * task is queued again — or poisoned after too many losses.
   */
  protected lose(
    lease: { taskId: string; holder: string; epoch: number },
    why: string,
    poisoned: Poisoned[],
  ): void {
    const { taskId } = lease
    const own = this.owned.get(taskId)
    if (own === undefined) return
    own.entry.attempts.push(this.cutRun(own, lease.holder, lease.epoch, 'lost', `executor lost: ${why}`))
    this.countLoss(taskId, own, poisoned)
  }

  /** One more executor lost for the task: it is queued again, or poisoned once too many were lost. */
  protected countLoss(taskId: string, own: OwnedTask, poisoned: Poisoned[]): void {
    const n = (this.losses.get(taskId) ?? 0) + 1
    this.losses.set(taskId, n)
    this.opts.counters.executorsLost++
    if (n < this.maxLosses) this.requeue(taskId)
    else this.poison(taskId, own, n, poisoned)
  }

  /** Takes the task out of the queue, to be ended as failed: it lost `n` executors. */
  protected poison(taskId: string, own: OwnedTask, n: number, poisoned: Poisoned[]): void {
    this.opts.queue.remove(taskId)
    own.state = 'running'
    own.entry.epoch = this.leases.nextEpoch(taskId)
    this.opts.counters.poisoned++
    poisoned.push({ entry: own.entry, error: `poison: lost ${n} executors` })
  }

  /**
   * The task has a result: it leaves the ledger (lease and epoch counter forgotten), its final
   * epoch is remembered for late reports, then `store` (when given) keeps the record here, and the
   * journal hears `done` — once `store` resolved.
   */
  protected finalize(
    taskId: string,
    epoch: number,
    executor: string | undefined,
    store: (() => Promise<void>) | undefined,
  ): void {
    const own = this.owned.get(taskId)
    this.owned.delete(taskId)
    this.leases.forget(taskId)
    this.losses.delete(taskId)
    this.settled.set(taskId, { epoch, executor })
    this.opts.events.emit(taskId, 'settled', executor === undefined ? { epoch } : { epoch, by: executor })
    if (own !== undefined) this.opts.onSettled?.(own.entry.task, executor)
    trimOldest(this.settled, SETTLED_MEMORY)
    if (this.opts.journal === undefined) {
      void store?.()
      return
    }
    if (store === undefined) this.journalDone(taskId)
    else void store().then(() => this.journalDone(taskId))
  }

  /** The record of a run cut short: by `executor` (this node when undefined), since its lease or start. */
  protected cutRun(
    own: OwnedTask,
    executor: string | undefined,
    epoch: number,
    cut: AttemptCut,
    error: string,
  ) {
    const now = Date.now()
    // keys in sorted order, as records have them (see `runRecord`)
    return {
      cut,
      epoch,
      error,
      executor: executor ?? this.opts.self,
      finishedAt: now,
      startedAt: own.since === undefined ? now : wallTimeOf(own.since),
    }
  }

  /** Puts an owned task back in the queue, stealable. */
  protected requeue(taskId: string): void {
    const own = this.owned.get(taskId)
    if (own === undefined) return
    own.state = 'queued'
    this.opts.queue.enqueue(own.entry.task, true)
  }

  /** Tells the journal (if any) that the task has a result. */
  protected journalDone(taskId: string): void {
    this.opts.journal?.done([taskId]).catch((err: Error) => this.opts.onJournalError?.(err))
  }
}

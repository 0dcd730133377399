import { LeaseTable } from '../../policy/leases.ts'
import type {
  CompleteReply,
  CompleteRequest,
  ReleaseReply,
  ReleaseRequest,
  RenewReply,
  RenewRequest,
  StealGrant,
  StealRequest,
} from '../../protocol/messages/messages.ts'
import type { GrantSigner } from '../../protocol/records/grant-proof.ts'
import type { ResultRecord } from '../../protocol/records/result-record.ts'
import type { Json } from '../../task/spec.ts'
import { type AttemptCut, handlerRuns, type Task } from '../../task/task.ts'
import type { NodeCounters } from '../node-counters.ts'
import { DEFAULT_MAX_EXECUTOR_LOSSES } from '../options.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { LocalQueue } from '../run/local-queue.ts'
import type { RunEntry } from '../run/task-runner.ts'
import type { TaskEvents } from '../story/task-events.ts'
import type { TaskJournal } from './journal.ts'
import { grantTasks, judgeCompletion } from './lease-desk.ts'

/** Settled tasks whose final epoch the owner remembers, to call late completions stale. */
export const SETTLED_MEMORY = 50_000

/** How a task stands at its owner. */
export type OwnedState = 'queued' | 'leased' | 'running' | 'retrying'

/** How a task came to be owned here. */
export type Ownership = 'submitted' | 'adopted' | 'replayed'

/** A task this node owns and has no result for yet. */
export interface OwnedTask {
  readonly entry: RunEntry
  state: OwnedState
  /**
   * Epochs below this were allocated before this node took the task over (by the task's earlier
   * owner, or by this node before a restart); 0 for a task submitted here.
   */
  readonly floor: number
  /** When the current lease was granted, or the owner's own run began (a run cut short is dated from it). */
  since?: number
}

/** What a release asks of the node: failed attempts to retry after a backoff, tasks to end as failed. */
export interface Released {
  reply: ReleaseReply
  /** Owned tasks whose holder's attempt failed and that have attempts left: retry after a backoff. */
  retries: RunEntry[]
  /** Owned tasks whose holder's attempt failed with no attempt left: end as failed. */
  failed: Poisoned[]
}

/** A task that lost too many executors: its owner publishes `entry` as failed with `error`. */
export interface Poisoned {
  entry: RunEntry
  error: string
}

/** Options of {@link OwnerLedger}. */
export interface OwnerLedgerOptions {
  /** This node's peer id (the executor of its own runs). */
  self: string
  /** The node's queue: owned tasks wait there (stealable) for a slot or a thief. */
  queue: LocalQueue
  /** Keeps the records that completions carry, and fences the records learnt from peers. */
  results: Pick<ResultStore, 'keep' | 'whenStored' | 'admit' | 'open'>
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
   * The owner's journal (with a data dir): accepted tasks are written before the submitter hears
   * "accepted", and `done` once a result exists. @defaultValue none (nothing survives a restart)
   */
  journal?: Pick<TaskJournal, 'accept' | 'done' | 'replay' | 'flush' | 'attempt' | 'attemptsOf'>
  /** Signs a grant proof for every lease granted (the thief's record must carry it). */
  grants: Pick<GrantSigner, 'signAll'>
  /** Executors a task may lose before it ends as failed. @defaultValue DEFAULT_MAX_EXECUTOR_LOSSES */
  maxExecutorLosses?: number
  /** A journal write failed (the task still runs; it may not survive a restart). */
  onJournalError?(err: Error): void
  /** An owned task has a result and leaves the ledger (`by`: the thief whose completion settled it). */
  onSettled?(task: Task, by: string | undefined): void
}

interface Settled {
  epoch: number
  /** The thief whose completion was accepted; undefined for a run of the owner's own. */
  executor: string | undefined
}

/**
 * The owner side of the mesh: the tasks this node accepted and has no result for, and the
 * leases it granted on them. Every change of an owned task's state goes through one of its named
 * operations, which tell the node's {@link TaskEvents} what they decided. It serves the steal
 * protocol (grant, renew, complete, release), takes expired or lost leases back into the queue,
 * hands back the tasks that lost too many executors (poison) for their owner to end as failed,
 * journals what it owns, and fences what it learns: only the current lease's holder and epoch
 * complete a task, and a record the owner knows to be stale never becomes the one its waiters see.
 */
export class OwnerLedger {
  private readonly owned = new Map<string, OwnedTask>()
  private readonly leases = new LeaseTable()
  private readonly losses = new Map<string, number>()
  private readonly settled = new Map<string, Settled>()
  private readonly maxLosses: number
  private acceptWrite: Promise<void> = Promise.resolve()

  constructor(private readonly opts: OwnerLedgerOptions) {
    this.maxLosses = opts.maxExecutorLosses ?? DEFAULT_MAX_EXECUTOR_LOSSES
    if (!Number.isInteger(this.maxLosses) || this.maxLosses < 1) {
      throw new RangeError(`maxExecutorLosses must be a positive integer, got ${this.maxLosses}`)
    }
    opts.results.admit((record) => this.admits(record))
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
    return this.leases.byHolder(peer).length > 0
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
   * Takes a task into ownership and queues it; false when it is owned already. A `submitted` or
   * `adopted` task is journalled (see {@link journalled}); a `replayed` one is in the journal
   * already. With `floor`, every epoch this node allocates for the task is above it (an adopted or
   * replayed task may have leases of an earlier owner still out). `dependencies` are the outputs of
   * the task's dependencies, when it waited for them here.
   */
  take(
    task: Task,
    opts: { as?: Ownership; floor?: number; dependencies?: Record<string, Json> } = {},
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
    const entry: RunEntry = { task, epoch: 0, attempts, dependencies: opts.dependencies ?? {} }
    this.owned.set(task.id, { entry, state: 'queued', floor })
    this.settled.delete(task.id)
    if (as !== 'replayed' && journal !== undefined) {
      const write = journal.accept([task])
      write.catch((err: Error) => this.opts.onJournalError?.(err))
      this.acceptWrite = write
    }
    const deps = opts.dependencies === undefined ? undefined : Object.keys(opts.dependencies).length
    events.emit(task.id, 'queued', deps === undefined ? undefined : { dependencies: deps })
    this.opts.queue.enqueue(task, true)
    return true
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

  /** Records that a journalled task has a result (e.g. one found in the local store at replay). */
  markDone(taskId: string): void {
    this.journalDone(taskId)
  }

  /** Marks an owned task as running here under a new epoch; undefined when not owned. */
  beginRun(taskId: string): RunEntry | undefined {
    const own = this.owned.get(taskId)
    if (own === undefined) return undefined
    own.state = 'running'
    own.since = Date.now()
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
   */
  interrupt(taskId: string): void {
    const own = this.owned.get(taskId)
    if (own === undefined || own.state !== 'running') return
    const run = this.cutRun(own, undefined, own.entry.epoch, 'interrupted', 'interrupted: its node stopped')
    own.entry.attempts.push(run)
    this.opts.journal?.attempt(taskId, run).catch((err: Error) => this.opts.onJournalError?.(err))
  }

  /**
   * The owner's own run of a task produced its result (or the owner ended it): the task is settled;
   * the journal hears `done` once the record is in the local store.
   */
  settle(taskId: string, epoch: number): void {
    if (!this.owned.has(taskId)) return
    // the record is being published here: the journal waits for its local copy
    const stored = this.opts.journal && (() => this.opts.results.whenStored(taskId))
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

  /** Serves a steal request: grants what the policy allows and the thief can run. */
  grant(from: string, req: StealRequest): StealGrant {
    const ttlMs = this.opts.leaseTtlMs
    const grant = grantTasks(req, {
      queue: this.opts.queue,
      slots: this.opts.slots,
      speed: this.opts.speed,
      ttlMs,
      task: (taskId) => this.owned.get(taskId)?.entry.task,
      requeue: (taskId) => this.requeue(taskId),
      lease: (taskId, now) => {
        const own = this.owned.get(taskId)
        if (own === undefined) return undefined
        const lease = this.leases.grant(taskId, from, now, ttlMs)
        own.state = 'leased'
        own.since = now
        own.entry.epoch = lease.epoch
        this.opts.events.emit(taskId, 'granted', { to: from, epoch: lease.epoch })
        const { attempts } = own.entry
        return { task: own.entry.task, lease: { ...lease, ...(attempts.length > 0 ? { attempts } : {}) } }
      },
      prove: (leases) => this.opts.grants.signAll(from, leases),
    })
    this.opts.counters.tasksGranted += grant.tasks.length
    return grant
  }

  /** Extends the holder's current leases; any other epoch or holder is rejected. */
  renew(from: string, req: RenewRequest): RenewReply {
    const now = Date.now()
    const accepted: string[] = []
    const rejected: string[] = []
    for (const { taskId, epoch } of req.leases) {
      if (this.leases.renew(taskId, from, epoch, now, this.opts.leaseTtlMs)) accepted.push(taskId)
      else {
        rejected.push(taskId)
        this.opts.events.emit(taskId, 'renew-rejected', { holder: from })
      }
    }
    return { type: 'renewed', requestId: req.requestId, accepted, rejected }
  }

  /**
   * Judges a thief's completions: only the current lease's holder with the current epoch completes
   * a task (and only with a record that verifies as its own, when one is carried); the record is
   * then kept here. Anything else is `stale` — also a late report of a task settled already under
   * another epoch or executor — or `unknown` for a task this node never owned.
   */
  async complete(from: string, req: CompleteRequest): Promise<CompleteReply> {
    const outcomes: CompleteReply['outcomes'] = []
    const kept: Promise<void>[] = [] // an accepted record's copy here counts as one of its replicas
    for (const c of req.completions) {
      const outcome = await judgeCompletion(from, c, {
        owned: (id) => this.owned.has(id),
        settled: (id) => this.settled.get(id),
        lease: (id) => this.leases.get(id),
        open: (value, key) => this.opts.results.open(value, key),
      })
      if (outcome.verdict === 'accepted' && this.owned.has(c.taskId)) {
        this.leases.complete(c.taskId, c.epoch)
        // settled first: the record it carries is then the accepted one, and wakes the waiters
        const { carried } = outcome
        const keep =
          carried &&
          (() => {
            const write = this.opts.results.keep(carried.record, carried.value)
            kept.push(write)
            return write
          })
        this.finalize(c.taskId, c.epoch, from, keep)
      }
      this.opts.events.emit(c.taskId, 'completed', {
        ...{ by: from, epoch: c.epoch, outcome: outcome.verdict },
        ...(outcome.verdict === 'accepted' ? { status: c.status } : {}),
        ...(outcome.carried?.record.error === undefined ? {} : { error: outcome.carried.record.error }),
      })
      outcomes.push({ taskId: c.taskId, outcome: outcome.verdict })
    }
    await Promise.all(kept)
    return { type: 'completed', requestId: req.requestId, outcomes }
  }

  /**
   * Takes back the leases a holder hands in. A task handed back unstarted, or with a run its node
   * cut short as it stopped, is queued again at once; one handed back with a failed attempt is
   * returned for a retry after a backoff (queued where any node may steal it), or — with no
   * attempt left — to be ended as failed. Every run handed in joins the task's attempts.
   */
  release(from: string, req: ReleaseRequest): Released {
    const released: string[] = []
    const retries: RunEntry[] = []
    const failed: Poisoned[] = []
    for (const { taskId, epoch, attempt } of req.leases) {
      if (!this.leases.release(taskId, from, epoch)) continue
      released.push(taskId)
      const own = this.owned.get(taskId)
      if (own === undefined) continue
      const run = attempt === undefined ? undefined : { ...attempt, executor: from, epoch }
      this.opts.events.emit(
        taskId,
        'released',
        run?.error === undefined ? { by: from } : { by: from, error: run.error },
      )
      if (run === undefined || run.cut !== undefined) {
        if (run !== undefined) own.entry.attempts.push(run)
        this.requeue(taskId)
      } else if (handlerRuns(own.entry.attempts) + 1 < own.entry.task.spec.maxAttempts) {
        own.entry.attempts.push(run)
        own.state = 'retrying'
        retries.push(own.entry)
      } else {
        own.entry.attempts.push(run)
        own.state = 'running'
        own.entry.epoch = this.leases.nextEpoch(taskId)
        failed.push({ entry: own.entry, error: run.error ?? 'failed' })
      }
    }
    return { reply: { type: 'released', requestId: req.requestId, released }, retries, failed }
  }

  /**
   * This node stalled for `stalledMs` (see `stallAwareInterval`): every lease lives that much
   * longer, since the renewals sent meanwhile have not been read yet.
   */
  postponeLeases(stalledMs: number): void {
    this.leases.postponeAll(stalledMs)
  }

  /**
   * Takes every expired lease back: its task lost an executor, and is queued again — or, after too
   * many losses, returned here as poisoned for the node to end as failed.
   */
  expireLeases(): Poisoned[] {
    const poisoned: Poisoned[] = []
    for (const lease of this.leases.expire(Date.now())) {
      this.opts.counters.leasesExpired++
      this.opts.events.emit(lease.taskId, 'lease-expired', { holder: lease.holder, epoch: lease.epoch })
      this.lose(lease, 'its lease expired', poisoned)
    }
    return poisoned
  }

  /**
   * A peer was declared dead: every lease it holds is taken back at once (its tasks lost an
   * executor). Returns how many leases it held, and the tasks that lost too many executors.
   */
  loseHolder(peer: string): { lost: number; poisoned: Poisoned[] } {
    const held = this.leases.byHolder(peer)
    const poisoned: Poisoned[] = []
    for (const lease of held) {
      if (!this.leases.release(lease.taskId, peer, lease.epoch)) continue
      this.opts.events.emit(lease.taskId, 'lease-lost', { holder: peer, epoch: lease.epoch })
      this.lose(lease, 'declared dead', poisoned)
    }
    return { lost: held.length, poisoned }
  }

  /**
   * A peer stored the result of a task. From the lease holder under the current epoch, the owner
   * treats it as its completion (in case the completion itself is lost). For a task adopted or
   * replayed here and still queued, a result of an epoch below the takeover floor (an executor of
   * the earlier ownership finished) ends it too: that result exists, nothing newer was accepted.
   */
  noteResult(from: string, taskId: string, epoch: number): void {
    const own = this.owned.get(taskId)
    if (own === undefined) return
    const lease = this.leases.get(taskId)
    if (own.state === 'leased' && lease?.holder === from && lease.epoch === epoch) {
      this.finalize(taskId, epoch, from, undefined)
    } else if (own.state === 'queued' && epoch < own.floor) {
      this.opts.queue.remove(taskId)
      this.finalize(taskId, epoch, from, undefined)
    }
  }

  /** True when `holder` holds the live lease on an owned task under `epoch` (its completion is due). */
  holdsLease(holder: string, taskId: string, epoch: number): boolean {
    const lease = this.owned.get(taskId)?.state === 'leased' ? this.leases.get(taskId) : undefined
    return lease !== undefined && lease.holder === holder && lease.epoch === epoch
  }

  /**
   * The fencing rule for records learnt from peers: for a task owned here, only the record of the
   * live lease (its holder, its epoch); for a task settled here, nothing below the accepted epoch;
   * anything for other tasks (this node only reads them).
   */
  admits(record: ResultRecord): boolean {
    if (this.owned.has(record.taskId)) {
      const lease = this.leases.get(record.taskId)
      return lease !== undefined && lease.holder === record.executor && lease.epoch === record.epoch
    }
    const settled = this.settled.get(record.taskId)
    return settled === undefined || record.epoch >= settled.epoch
  }

  /**
   * A lease was lost (expired, or its holder died): the run it covered joins the attempts, and the
   * task is queued again — or poisoned after too many losses.
   */
  private lose(
    lease: { taskId: string; holder: string; epoch: number },
    why: string,
    poisoned: Poisoned[],
  ): void {
    const { taskId } = lease
    const own = this.owned.get(taskId)
    if (own === undefined) return
    own.entry.attempts.push(this.cutRun(own, lease.holder, lease.epoch, 'lost', `executor lost: ${why}`))
    const n = (this.losses.get(taskId) ?? 0) + 1
    this.losses.set(taskId, n)
    this.opts.counters.executorsLost++
    if (n < this.maxLosses) {
      this.requeue(taskId)
      return
    }
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
  private finalize(
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
    if (this.settled.size > SETTLED_MEMORY) {
      const oldest = this.settled.keys().next().value
      if (oldest !== undefined) this.settled.delete(oldest)
    }
    if (this.opts.journal === undefined) {
      void store?.()
      return
    }
    if (store === undefined) this.journalDone(taskId)
    else void store().then(() => this.journalDone(taskId))
  }

  /** The record of a run cut short: by `executor` (this node when undefined), since its lease or start. */
  private cutRun(
    own: OwnedTask,
    executor: string | undefined,
    epoch: number,
    cut: AttemptCut,
    error: string,
  ) {
    const now = Date.now()
    return {
      executor: executor ?? this.opts.self,
      epoch,
      startedAt: own.since ?? now,
      finishedAt: now,
      error,
      cut,
    }
  }

  private requeue(taskId: string): void {
    const own = this.owned.get(taskId)
    if (own === undefined) return
    own.state = 'queued'
    this.opts.queue.enqueue(own.entry.task, true)
  }

  private journalDone(taskId: string): void {
    this.opts.journal?.done([taskId]).catch((err: Error) => this.opts.onJournalError?.(err))
  }
}

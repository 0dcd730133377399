import type { RunOutcome } from '../../executor/executor.ts'
import { canRun } from '../../policy/capacity.ts'
import { LeaseTable } from '../../policy/leases.ts'
import { grantCount } from '../../policy/stealing.ts'
import { MAX_FRAME_BYTES } from '../../protocol/constants.ts'
import type { GrantSigner } from '../../protocol/grant-proof.ts'
import type {
  CompleteReply,
  CompleteRequest,
  ReleaseReply,
  ReleaseRequest,
  RenewReply,
  RenewRequest,
  StealGrant,
  StealRequest,
} from '../../protocol/messages.ts'
import { type ResultRecord, resultKey } from '../../protocol/result-record.ts'
import { jsonByteLength } from '../../task/spec.ts'
import type { Task } from '../../task/task.ts'
import type { NodeCounters } from '../node-counters.ts'
import { DEFAULT_MAX_EXECUTOR_LOSSES } from '../options.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { LocalQueue } from '../run/local-queue.ts'
import type { RunEntry } from '../run/task-runner.ts'
import type { TaskJournal } from './journal.ts'

/** Room a grant frame keeps for its envelope (`type`, `requestId`, `ttlMs`, brackets), bytes. */
const GRANT_ENVELOPE_BYTES = 1024
/** Most bytes one lease of a grant takes (task id, epoch, expiry and an 88-character proof). */
const GRANT_LEASE_BYTES = 256

/** Settled tasks whose final epoch the owner remembers, to call late completions stale. */
export const SETTLED_MEMORY = 50_000

/** How a task stands at its owner. */
export type OwnedState = 'queued' | 'leased' | 'running' | 'retrying'

/** How a task came to be owned here. */
export type Ownership = 'submitted' | 'adopted' | 'replayed'

/** A task this node owns and has no result for yet. */
export interface OwnedTask {
  entry: RunEntry
  state: OwnedState
  /**
   * Epochs below this were allocated before this node took the task over (by the task's earlier
   * owner, or by this node before a restart); 0 for a task submitted here.
   */
  floor: number
}

/** Options of {@link OwnerLedger}. */
export interface OwnerLedgerOptions {
  /** The node's queue: owned tasks wait there (stealable) for a slot or a thief. */
  queue: LocalQueue
  /** Keeps the records that completions carry, and fences the records learnt from peers. */
  results: Pick<ResultStore, 'keep' | 'whenStored' | 'admit' | 'open'>
  /** The node's counters (`accepted`, `adopted`, `replayed`, `tasksGranted`, `leasesExpired`, …). */
  counters: NodeCounters
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
  journal?: Pick<TaskJournal, 'accept' | 'done' | 'replay'>
  /** Signs a grant proof for every lease granted (the thief's record must carry it). */
  grants: Pick<GrantSigner, 'sign'>
  /** Executors a task may lose before it ends as failed. @defaultValue DEFAULT_MAX_EXECUTOR_LOSSES */
  maxExecutorLosses?: number
  /** An owned task went back to the queue (its lease was released, expired or lost). */
  onRequeued(): void
  /** A grant handed tasks to a thief: the stealable queue shrank. */
  onGranted(): void
  /** A lease ran out (before its task is requeued or poisoned). */
  onExpired?(taskId: string, holder: string, epoch: number): void
  /** A lease was taken back because its holder was declared dead. */
  onLost?(taskId: string, holder: string, epoch: number): void
  /**
   * A task lost `maxExecutorLosses` executors: the owner ends it as failed with `error` — it
   * publishes the record of `entry` (already under a fresh epoch) and then calls {@link OwnerLedger.settle}.
   */
  onPoisoned(entry: RunEntry, error: string): void
  /** A journal write failed (the task still runs; it may not survive a restart). */
  onJournalError?(err: Error): void
}

/** The outcome an owner publishes for a task that lost too many executors (see `onPoisoned`). */
export function poisonOutcome(error: string): RunOutcome {
  const now = Date.now()
  return {
    status: 'failed',
    error,
    startedAt: now,
    finishedAt: now,
    unrecoverable: true,
    timedOut: false,
    cancelled: false,
  }
}

interface Settled {
  epoch: number
  /** The thief whose completion was accepted; undefined for a run of the owner's own. */
  executor: string | undefined
}

/**
 * The owner side of the mesh: the tasks this node accepted and has no result for, and the
 * leases it granted on them. It serves the steal protocol (grant, renew, complete, release),
 * takes expired or lost leases back into the queue, ends a task that lost too many executors as
 * failed (poison), journals what it owns, and fences what it learns: only the current lease's
 * holder and epoch complete a task, and a record the owner knows to be stale never becomes the one
 * its waiters see.
 */
export class OwnerLedger {
  private readonly owned = new Map<string, OwnedTask>()
  private readonly leases = new LeaseTable()
  private readonly losses = new Map<string, number>()
  private readonly settled = new Map<string, Settled>()
  private readonly maxLosses: number
  private pendingAccepts: Task[] = []
  private pendingDone: string[] = []
  private journalScheduled = false
  private acceptWrite: Promise<void> = Promise.resolve()
  private doneWrite: Promise<void> = Promise.resolve()

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

  /** True when this node owns the task and has no result for it yet. */
  has(taskId: string): boolean {
    return this.owned.has(taskId)
  }

  /** The live record of an owned task (its state is the owner's to move). */
  get(taskId: string): OwnedTask | undefined {
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
   * replayed task may have leases of an earlier owner still out).
   */
  adopt(task: Task, opts: { as?: Ownership; floor?: number } = {}): boolean {
    if (this.owned.has(task.id)) return false
    const as = opts.as ?? 'submitted'
    const { counters } = this.opts
    if (as === 'submitted') counters.accepted++
    else if (as === 'adopted') counters.adopted++
    else counters.replayed++
    const floor = opts.floor ?? 0
    if (floor > 0) this.leases.advanceTo(task.id, floor)
    const entry: RunEntry = { task, epoch: 0, attempts: [], dependencies: {} }
    this.owned.set(task.id, { entry, state: 'queued', floor })
    this.settled.delete(task.id)
    this.opts.queue.enqueue(task, true)
    if (as !== 'replayed' && this.opts.journal !== undefined) {
      this.pendingAccepts.push(task)
      this.scheduleJournal()
    }
    return true
  }

  /**
   * Resolves once every task adopted so far is written to the journal (at once without one);
   * rejects when that write failed.
   */
  journalled(): Promise<void> {
    this.flushJournal()
    return this.acceptWrite
  }

  /** Writes what is pending and resolves once the journal has taken every write so far. */
  async flushJournal(): Promise<void> {
    this.writeJournal()
    await Promise.allSettled([this.acceptWrite, this.doneWrite])
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
    own.entry.epoch = this.leases.nextEpoch(taskId)
    return own.entry
  }

  /**
   * The owner's own run of a task produced its result (or the owner ended it as poison): the task
   * is settled; the journal hears `done` once the record is in the local store.
   */
  settle(taskId: string, epoch: number): void {
    if (!this.owned.has(taskId)) return
    // the record is being published here: the journal waits for its local copy
    const stored = this.opts.journal && (() => this.opts.results.whenStored(taskId))
    this.finalize(taskId, epoch, undefined, stored)
  }

  /** Serves a steal request: grants what the policy allows and the thief can run. */
  grant(from: string, req: StealRequest): StealGrant {
    const { queue, counters } = this.opts
    const now = Date.now()
    const ttlMs = this.opts.leaseTtlMs
    const victim = {
      queued: queue.stealableCount,
      queuedWorkMs: queue.queuedWorkMs(true),
      slots: this.opts.slots,
      speed: this.opts.speed,
    }
    const n = Math.min(
      req.max,
      grantCount({
        victim,
        thief: {
          queued: req.queued,
          queuedWorkMs: req.queuedWorkMs,
          slots: req.offer.slots,
          speed: req.speed,
          freeSlots: req.freeSlots,
        },
        requested: req.max,
      }),
    )
    const taken = n > 0 ? queue.takeForSteal(now, n, (t) => canRun(req.offer, t)) : []
    const tasks: Task[] = []
    const leases: StealGrant['leases'] = []
    let bytes = GRANT_ENVELOPE_BYTES
    for (const [i, q] of taken.entries()) {
      const own = this.owned.get(q.id)
      if (own === undefined) continue
      // the grant must fit one frame: what does not goes back to the queue, for the next steal
      bytes += jsonByteLength(own.entry.task) + GRANT_LEASE_BYTES
      if (tasks.length > 0 && bytes > MAX_FRAME_BYTES) {
        for (const rest of taken.slice(i)) {
          const back = this.owned.get(rest.id)
          if (back !== undefined) queue.enqueue(back.entry.task, true)
        }
        break
      }
      const lease = this.leases.grant(q.id, from, now, ttlMs)
      own.state = 'leased'
      own.entry.epoch = lease.epoch
      tasks.push(own.entry.task)
      const proof = this.opts.grants.sign(q.id, from, lease.epoch)
      leases.push({ taskId: q.id, epoch: lease.epoch, expiresAt: lease.expiresAt, proof })
    }
    counters.tasksGranted += tasks.length
    if (tasks.length > 0) this.opts.onGranted()
    return { type: 'grant', requestId: req.requestId, tasks, leases, ttlMs }
  }

  /** Extends the holder's current leases; any other epoch or holder is rejected. */
  renew(from: string, req: RenewRequest): RenewReply {
    const now = Date.now()
    const accepted: string[] = []
    const rejected: string[] = []
    for (const { taskId, epoch } of req.leases) {
      if (this.leases.renew(taskId, from, epoch, now, this.opts.leaseTtlMs)) accepted.push(taskId)
      else rejected.push(taskId)
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
    for (const c of req.completions) {
      outcomes.push({ taskId: c.taskId, outcome: await this.judge(from, c) })
    }
    return { type: 'completed', requestId: req.requestId, outcomes }
  }

  /** Takes back the leases a holder hands in (it stops, or declined them): their tasks are queued again. */
  release(from: string, req: ReleaseRequest): ReleaseReply {
    const released: string[] = []
    for (const { taskId, epoch } of req.leases) {
      if (!this.leases.release(taskId, from, epoch)) continue
      this.requeue(taskId)
      released.push(taskId)
    }
    return { type: 'released', requestId: req.requestId, released }
  }

  /**
   * This node stalled for `stalledMs` (see `stallAwareInterval`): every lease lives that much
   * longer, since the renewals sent meanwhile have not been read yet.
   */
  postponeLeases(stalledMs: number): void {
    this.leases.postponeAll(stalledMs)
  }

  /** Takes every expired lease back: its task lost an executor, and is queued again (or poisoned). */
  expireLeases(): void {
    for (const lease of this.leases.expire(Date.now())) {
      this.opts.counters.leasesExpired++
      this.opts.onExpired?.(lease.taskId, lease.holder, lease.epoch)
      this.lose(lease.taskId)
    }
  }

  /**
   * A peer was declared dead: every lease it holds is taken back at once (its tasks lost an
   * executor). Returns how many leases it held.
   */
  loseHolder(peer: string): number {
    const held = this.leases.byHolder(peer)
    for (const lease of held) {
      if (!this.leases.release(lease.taskId, peer, lease.epoch)) continue
      this.opts.onLost?.(lease.taskId, peer, lease.epoch)
      this.lose(lease.taskId)
    }
    return held.length
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

  private async judge(
    from: string,
    c: CompleteRequest['completions'][number],
  ): Promise<CompleteReply['outcomes'][number]['outcome']> {
    if (!this.owned.has(c.taskId)) {
      const settled = this.settled.get(c.taskId)
      if (settled === undefined) return 'unknown'
      return settled.epoch === c.epoch && settled.executor === from ? 'accepted' : 'stale'
    }
    const lease = this.leases.get(c.taskId)
    if (lease === undefined || lease.holder !== from || lease.epoch !== c.epoch) return 'stale'
    let carried: { record: ResultRecord; value: Uint8Array } | undefined
    if (c.record !== undefined) {
      carried = await this.openCarried(from, c)
      // a completion whose record does not check out completes nothing: the lease runs out
      if (carried === undefined) return 'stale'
      // the lease may have moved on while the signature was checked
      const now = this.leases.get(c.taskId)
      if (now === undefined || now.holder !== from || now.epoch !== c.epoch) return 'stale'
    }
    this.leases.complete(c.taskId, c.epoch)
    // settled first: the record it carries is then the accepted one, and wakes the waiters
    const kept = carried
    this.finalize(c.taskId, c.epoch, from, kept && (() => this.opts.results.keep(kept.record, kept.value)))
    return 'accepted'
  }

  /** The record a completion carries, when it verifies as the sender's record of that epoch. */
  private async openCarried(
    from: string,
    c: CompleteRequest['completions'][number],
  ): Promise<{ record: ResultRecord; value: Uint8Array } | undefined> {
    try {
      const value = Buffer.from(c.record ?? '', 'base64')
      const record = this.opts.results.open(value, resultKey(c.taskId))
      if (record.executor !== from || record.epoch !== c.epoch || record.status !== c.status) return undefined
      return { record, value }
    } catch {
      return undefined
    }
  }

  /** A lease was lost (expired, or its holder died): requeue, or end as poison after too many. */
  private lose(taskId: string): void {
    if (!this.owned.has(taskId)) return
    const n = (this.losses.get(taskId) ?? 0) + 1
    this.losses.set(taskId, n)
    this.opts.counters.executorsLost++
    if (n >= this.maxLosses) this.poison(taskId, n)
    else this.requeue(taskId)
  }

  private poison(taskId: string, losses: number): void {
    const own = this.owned.get(taskId)
    if (own === undefined) return
    this.opts.queue.remove(taskId)
    own.state = 'running'
    own.entry.epoch = this.leases.nextEpoch(taskId)
    this.opts.counters.poisoned++
    this.opts.onPoisoned(own.entry, `poison: lost ${losses} executors`)
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
    this.owned.delete(taskId)
    this.leases.forget(taskId)
    this.losses.delete(taskId)
    this.settled.set(taskId, { epoch, executor })
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

  private requeue(taskId: string): void {
    const own = this.owned.get(taskId)
    if (own === undefined) return
    own.state = 'queued'
    this.opts.queue.enqueue(own.entry.task, true)
    this.opts.onRequeued()
  }

  private journalDone(taskId: string): void {
    if (this.opts.journal === undefined) return
    this.pendingDone.push(taskId)
    this.scheduleJournal()
  }

  private scheduleJournal(): void {
    if (this.journalScheduled) return
    this.journalScheduled = true
    queueMicrotask(() => this.writeJournal())
  }

  /** Writes the pending accepts, then the pending dones (the journal keeps them in order). */
  private writeJournal(): void {
    this.journalScheduled = false
    const journal = this.opts.journal
    if (journal === undefined) return
    if (this.pendingAccepts.length > 0) {
      const write = journal.accept(this.pendingAccepts)
      this.pendingAccepts = []
      write.catch((err: Error) => this.opts.onJournalError?.(err))
      this.acceptWrite = write
    }
    if (this.pendingDone.length > 0) {
      const write = journal.done(this.pendingDone)
      this.pendingDone = []
      write.catch((err: Error) => this.opts.onJournalError?.(err))
      this.doneWrite = write
    }
  }
}

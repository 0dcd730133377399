import { Drainers } from '../../policy/drainers.ts'
import { maxLeaseLifeMs } from '../../policy/leases.ts'
import type {
  CompleteReply,
  CompleteRequest,
  ReleaseRequest,
  RenewReply,
  RenewRequest,
  StealGrant,
  StealRequest,
} from '../../protocol/messages/messages.ts'
import type { ResultRecord } from '../../protocol/records/result-record.ts'
import { handlerRuns } from '../../task/task.ts'
import { monotonicNow } from '../../util/clock.ts'
import type { RunEntry } from '../run/task-runner.ts'
import type { TaskEventDetail } from '../story/task-events.ts'
import { grantTasks, type JudgeParts, judgeCompletion } from './lease-desk.ts'
import { LedgerBook, type OwnerLedgerOptions } from './ledger-book.ts'
import type { Poisoned, Released } from './owned-task.ts'

/**
 * The steal protocol's side of the `OwnerLedger`: it grants leases on queued tasks, renews
 * them, judges the completions and takes back what holders hand in, expire or lose, and fences the
 * records learnt from peers.
 */
export abstract class LeaseLedger extends LedgerBook {
  /** The thieves asking for this node's tasks lately: what drains its queue besides each one. */
  private readonly drainers = new Drainers()

  constructor(opts: OwnerLedgerOptions) {
    super(opts)
    opts.results.admit((record) => this.admits(record))
  }

  /**
   * Serves a steal request: grants what the policy allows and the thief can run. An offer is
   * granted the same way (`offer`, with the cost of the move it weighs); its tasks count as
   * granted once the peer took them. A peer this node does not lease to (the allow-list) is
   * answered as a steal that gets nothing is: an empty grant (nor does it count as a drainer).
   * Each lease lives at most its task's `timeoutMs` plus 30 TTLs, renewals included
   * (`maxLeaseLifeMs`).
   */
  grant(from: string, req: StealRequest, offer?: { transferCostMs: number }): StealGrant {
    const ttlMs = this.opts.leaseTtlMs
    if (!this.leasesTo(from)) return { type: 'grant', requestId: req.requestId, tasks: [], leases: [], ttlMs }
    const offered = offer !== undefined
    const now = monotonicNow()
    if (!offered) this.drainers.note(from, req.offer, req.speed, now)
    const { slots, speed } = this.opts
    const grant = grantTasks(req, {
      transferCostMs: offer?.transferCostMs,
      others: this.drainers.others(
        { peer: from, offer: req.offer },
        { slots, speed, offer: this.opts.offer },
        now,
      ),
      queue: this.opts.queue,
      slots: this.opts.slots,
      speed: this.opts.speed,
      ttlMs,
      task: (taskId) => this.owned.get(taskId)?.entry.task,
      requeue: (taskId) => this.requeue(taskId),
      lease: (taskId, now) => {
        const own = this.owned.get(taskId)
        if (own === undefined) return undefined
        const maxLifeMs = maxLeaseLifeMs(own.entry.task.spec.timeoutMs, ttlMs)
        const lease = this.leases.grant(taskId, from, now, ttlMs, maxLifeMs)
        own.state = 'leased'
        own.since = now
        own.entry.epoch = lease.epoch
        const detail: TaskEventDetail = { to: from, epoch: lease.epoch }
        if (offered) detail.offered = true
        this.opts.events.emit(taskId, 'granted', detail)
        const { attempts } = own.entry
        return { task: own.entry.task, lease: { ...lease, ...(attempts.length > 0 ? { attempts } : {}) } }
      },
      prove: (leases) => this.opts.grants.signAll(from, leases),
    })
    if (!offered) this.opts.counters.tasksGranted += grant.tasks.length
    if (grant.tasks.length > 0) this.drainers.granted(now)
    return grant
  }

  /**
   * Extends the holder's current leases, never past their `endsBy`; any other epoch or holder, or a
   * lease at its end, is rejected — every lease of a peer this node does not lease to, untold.
   */
  renew(from: string, req: RenewRequest): RenewReply {
    const now = monotonicNow()
    const accepted: string[] = []
    const rejected: string[] = []
    if (!this.leasesTo(from)) {
      rejected.push(...req.leases.map((l) => l.taskId))
      return { type: 'renewed', requestId: req.requestId, accepted, rejected }
    }
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
   * then kept here — known at once (its waiters woken), its local copy written with the store's
   * next group commit. The verdicts do not wait for that write: the thief counted this copy when it
   * sent the frame, and its next completions to this owner wait for these verdicts. Anything else
   * is `stale` — also a late report of a task settled already under another epoch or executor — or
   * `unknown` for a task this node never owned.
   */
  async complete(from: string, req: CompleteRequest): Promise<CompleteReply> {
    const outcomes: CompleteReply['outcomes'] = []
    if (!this.leasesTo(from)) {
      // it holds no lease here: nothing it reports is judged, nor told in the tasks' stories
      for (const { taskId } of req.completions) {
        const known = this.owned.has(taskId) || this.settled.has(taskId)
        outcomes.push({ taskId, outcome: known ? 'stale' : 'unknown' })
      }
      return { type: 'completed', requestId: req.requestId, outcomes }
    }
    for (const c of req.completions) {
      const outcome = judgeCompletion(from, c, this.judgeParts)
      if (outcome.verdict === 'accepted' && this.owned.has(c.taskId)) {
        this.leases.complete(c.taskId, c.epoch)
        // settled first: the record it carries is then the accepted one, and wakes the waiters
        const { carried } = outcome
        // the store's write never rejects (a failure goes to its onError)
        const keep = carried && (() => this.opts.results.keep(carried.record, carried.value))
        this.finalize(c.taskId, c.epoch, from, keep)
      }
      const detail: TaskEventDetail = { by: from, epoch: c.epoch, outcome: outcome.verdict }
      if (outcome.verdict === 'accepted') detail.status = c.status
      const error = outcome.carried?.record.error
      if (error !== undefined) detail.error = error
      this.opts.events.emit(c.taskId, 'completed', detail)
      outcomes.push({ taskId: c.taskId, outcome: outcome.verdict })
    }
    return { type: 'completed', requestId: req.requestId, outcomes }
  }

  /** True when this node leases its tasks to `peer` (the allow-list's say). */
  private leasesTo(peer: string): boolean {
    return this.opts.leasesTo?.(peer) ?? true
  }

  /** What {@link judgeCompletion} reads of this ledger (one object for every completion). */
  private readonly judgeParts: JudgeParts = {
    owned: (id) => this.owned.has(id),
    settled: (id) => this.settled.get(id),
    lease: (id) => this.leases.get(id),
    open: (value, key, sender) => this.opts.results.open(value, key, sender),
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
    const leases = this.leasesTo(from) ? req.leases : []
    for (const { taskId, epoch, attempt } of leases) {
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
      if (run?.cut === 'lost') {
        // its node crashed while it ran (the run may be why): an executor lost, as a killed one is
        own.entry.attempts.push(run)
        this.countLoss(taskId, own, failed)
      } else if (run === undefined || run.cut !== undefined) {
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
    for (const lease of this.leases.expire(monotonicNow())) {
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
}

import { canRun } from '../policy/capacity.ts'
import { LeaseTable } from '../policy/leases.ts'
import { grantCount } from '../policy/stealing.ts'
import type {
  CompleteReply,
  CompleteRequest,
  ReleaseReply,
  ReleaseRequest,
  RenewReply,
  RenewRequest,
  StealGrant,
  StealRequest,
} from '../protocol/messages.ts'
import { openResultRecord, resultKey } from '../protocol/result-record.ts'
import type { Task } from '../task/task.ts'
import type { LocalQueue } from './local-queue.ts'
import type { NodeCounters } from './node-counters.ts'
import type { ResultStore } from './result-store.ts'
import type { RunEntry } from './task-runner.ts'

/** How a task stands at its owner. */
export type OwnedState = 'queued' | 'leased' | 'running' | 'retrying'

/** A task this node owns and has no result for yet. */
export interface OwnedTask {
  entry: RunEntry
  state: OwnedState
}

/** Options of {@link OwnerLedger}. */
export interface OwnerLedgerOptions {
  /** The node's queue: owned tasks wait there (stealable) for a slot or a thief. */
  queue: LocalQueue
  /** Keeps the records that completions carry. */
  results: Pick<ResultStore, 'accept'>
  /** The node's counters (`accepted`, `tasksGranted`, `leasesExpired`). */
  counters: NodeCounters
  /** Lease time-to-live granted to thieves, ms. */
  leaseTtlMs: number
  /** This node's slots (its side of the grant size). */
  slots: number
  /** This node's speed factor (its side of the grant size). */
  speed: number
  /** An owned task went back to the queue (its lease was released or expired). */
  onRequeued(): void
  /** A grant handed tasks to a thief: the stealable queue shrank. */
  onGranted(): void
}

/**
 * The owner side of the mesh: the tasks this node accepted and has no result for, and the
 * leases it granted on them. It serves the steal protocol (grant, renew, complete, release) and
 * takes expired leases back into the queue.
 */
export class OwnerLedger {
  private readonly owned = new Map<string, OwnedTask>()
  private readonly leases = new LeaseTable()

  constructor(private readonly opts: OwnerLedgerOptions) {}

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

  /** Takes a newly accepted task into ownership and queues it; false when it is owned already. */
  adopt(task: Task): boolean {
    if (this.owned.has(task.id)) return false
    this.opts.counters.accepted++
    const entry: RunEntry = { task, epoch: 0, attempts: [], dependencies: {} }
    this.owned.set(task.id, { entry, state: 'queued' })
    this.opts.queue.enqueue(task, true)
    return true
  }

  /** Marks an owned task as running here under a new epoch; undefined when not owned. */
  beginRun(taskId: string): RunEntry | undefined {
    const own = this.owned.get(taskId)
    if (own === undefined) return undefined
    own.state = 'running'
    own.entry.epoch = this.leases.nextEpoch(taskId)
    return own.entry
  }

  /** The owner's own run of a task produced its result. */
  settle(taskId: string, epoch: number): void {
    this.owned.delete(taskId)
    this.leases.complete(taskId, epoch)
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
    for (const q of taken) {
      const own = this.owned.get(q.id)
      if (own === undefined) continue
      const lease = this.leases.grant(q.id, from, now, ttlMs)
      own.state = 'leased'
      own.entry.epoch = lease.epoch
      tasks.push(own.entry.task)
      leases.push({ taskId: q.id, epoch: lease.epoch, expiresAt: lease.expiresAt })
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
   * Judges a thief's completions by their epochs (keeping the records they carry); an accepted
   * one ends the owner's task.
   */
  async complete(from: string, req: CompleteRequest): Promise<CompleteReply> {
    await Promise.all(req.completions.map((c) => this.acceptRecord(from, c.taskId, c.record)))
    const outcomes = req.completions.map(({ taskId, epoch }) => {
      const lease = this.leases.get(taskId)
      if (lease !== undefined && lease.holder !== from) return { taskId, outcome: 'stale' as const }
      const outcome = this.owned.has(taskId) ? this.leases.complete(taskId, epoch) : 'unknown'
      if (outcome === 'accepted') this.owned.delete(taskId)
      return { taskId, outcome }
    })
    return { type: 'completed', requestId: req.requestId, outcomes }
  }

  /** Takes back the leases a holder hands in early (it stops): their tasks are queued again. */
  release(from: string, req: ReleaseRequest): ReleaseReply {
    const released: string[] = []
    for (const { taskId, epoch } of req.leases) {
      if (!this.leases.release(taskId, from, epoch)) continue
      this.requeue(taskId)
      released.push(taskId)
    }
    return { type: 'released', requestId: req.requestId, released }
  }

  /** Takes every expired lease back: its task is queued here again. */
  expireLeases(): void {
    for (const lease of this.leases.expire(Date.now())) {
      this.opts.counters.leasesExpired++
      this.requeue(lease.taskId)
    }
  }

  /**
   * A peer stored the result of a task: from the lease holder, the owner treats it as its
   * completion (in case the completion itself is lost).
   */
  noteResult(from: string, taskId: string, epoch: number): void {
    const own = this.owned.get(taskId)
    if (own?.state === 'leased' && this.leases.get(taskId)?.holder === from) {
      if (this.leases.complete(taskId, epoch) === 'accepted') this.owned.delete(taskId)
    }
  }

  /** Keeps a record a completion carried, once its signature checks out. */
  private async acceptRecord(from: string, taskId: string, encoded: string | undefined): Promise<void> {
    if (encoded === undefined) return
    try {
      const value = Buffer.from(encoded, 'base64')
      const record = await openResultRecord(value, resultKey(taskId))
      if (record.executor === from) this.opts.results.accept(record, value)
    } catch {
      // a bad record changes nothing; the completion itself is judged by its epoch
    }
  }

  private requeue(taskId: string): void {
    const own = this.owned.get(taskId)
    if (own === undefined) return
    own.state = 'queued'
    this.opts.queue.enqueue(own.entry.task, true)
    this.opts.onRequeued()
  }
}

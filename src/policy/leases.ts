import { second } from '../task/limits.ts'
import { LeaseConflictError } from './errors.ts'

/**
 * Lease lifetime a thief gets unless told otherwise, ms; the node's `leaseTtlMs` default. Thieves
 * renew once a third of it has passed; a thief that stops renewing (dead, frozen, cut off) loses
 * the task after this long, so it bounds how late a lost run starts again.
 */
export const DEFAULT_LEASE_TTL_MS = 10 * second

/** Lease TTLs a lease may live beyond its task's timeout (5 minutes with the default TTL). */
export const LEASE_LIFE_GRACE_TTLS = 30

/**
 * The longest a lease on a task may live, ms: the task's `timeoutMs` (its run cannot take longer)
 * plus a grace of {@link LEASE_LIFE_GRACE_TTLS} lease TTLs — for the way to the thief, the wait in
 * its queue behind the runs it holds already (a prefetch), loading dependencies, and signing and
 * sending the record — so an honest thief whose run ends at the timeout still reports under its
 * lease. Renewals never extend a lease past it: a thief that keeps renewing a task it does not
 * finish (hostile, or stuck) loses it then, as one that stopped renewing does.
 */
export function maxLeaseLifeMs(timeoutMs: number, ttlMs: number): number {
  return timeoutMs + LEASE_LIFE_GRACE_TTLS * ttlMs
}

/** A task granted to a thief, fenced by its epoch. */
export interface Lease {
  taskId: string
  /** Peer id of the thief running it. */
  holder: string
  /** Per-task epoch, strictly increasing across grants and local runs. */
  epoch: number
  /** Local clock (ms) after which the owner takes the task back. */
  expiresAt: number
  /**
   * Local clock (ms) past which no renewal extends the lease: its grant plus the longest life it
   * may have (see {@link maxLeaseLifeMs}). Absent: renewals extend it without bound.
   */
  endsBy?: number
}

const NONE: ReadonlySet<string> = new Set()

/** What `complete` made of a completion report. */
export type CompletionVerdict = 'accepted' | 'stale' | 'unknown'

/**
 * Owner-side bookkeeping of the tasks it granted to thieves. Every grant (and every local run,
 * via `nextEpoch`) takes a new epoch for its task, strictly above all earlier ones; only the
 * current lease's epoch can complete, renew or release it (fencing), so a late or duplicated
 * report from an older epoch changes nothing.
 *
 * The per-task epoch counter outlives the lease, so re-grants keep increasing; call `forget`
 * once the task has a result for good.
 */
export class LeaseTable {
  private readonly leases = new Map<string, Lease>()
  private readonly epochs = new Map<string, number>()
  private readonly holders = new Map<string, Set<string>>()

  /** Number of live leases. */
  get size(): number {
    return this.leases.size
  }

  /** The last epoch allocated for a task; 0 when none was. */
  currentEpoch(taskId: string): number {
    return this.epochs.get(taskId) ?? 0
  }

  /** Allocates the next epoch of a task (the first is 1); also used for the owner's local runs. */
  nextEpoch(taskId: string): number {
    const epoch = this.currentEpoch(taskId) + 1
    this.epochs.set(taskId, epoch)
    return epoch
  }

  /**
   * Makes the next epoch of a task exceed `epoch` — for an owner adopting a task whose earlier
   * epochs were allocated elsewhere (seen in result records or announcements).
   */
  advanceTo(taskId: string, epoch: number): void {
    if (Number.isFinite(epoch) && epoch > this.currentEpoch(taskId))
      this.epochs.set(taskId, Math.floor(epoch))
  }

  /**
   * Grants a task to `holder` under a new epoch until `now + ttlMs` — and, given `maxLifeMs`, for
   * at most that long in all, renewals included (the lease's `endsBy`).
   * @throws LeaseConflictError when an unexpired lease on the task exists; an expired one is replaced.
   */
  grant(
    taskId: string,
    holder: string,
    now: number,
    ttlMs: number = DEFAULT_LEASE_TTL_MS,
    maxLifeMs?: number,
  ): Lease {
    const held = this.leases.get(taskId)
    if (held !== undefined) {
      if (held.expiresAt > now) throw new LeaseConflictError(taskId, held.holder, held.epoch)
      this.drop(held)
    }
    const epoch = this.nextEpoch(taskId)
    const lease: Lease =
      maxLifeMs === undefined
        ? { taskId, holder, epoch, expiresAt: now + ttlMs }
        : { taskId, holder, epoch, expiresAt: now + Math.min(ttlMs, maxLifeMs), endsBy: now + maxLifeMs }
    this.leases.set(taskId, lease)
    let tasks = this.holders.get(holder)
    if (tasks === undefined) {
      tasks = new Set()
      this.holders.set(holder, tasks)
    }
    tasks.add(taskId)
    return { ...lease }
  }

  /**
   * Extends the current lease to `now + ttlMs`, but never past its `endsBy`. Only the current
   * holder with the current epoch may; a lease that `expire` already returned is gone and cannot
   * be renewed, nor can one whose `endsBy` has come (it expires then, as an unrenewed one does).
   */
  renew(
    taskId: string,
    holder: string,
    epoch: number,
    now: number,
    ttlMs: number = DEFAULT_LEASE_TTL_MS,
  ): boolean {
    const lease = this.current(taskId, holder, epoch)
    if (lease === undefined) return false
    const { endsBy } = lease
    if (endsBy === undefined) {
      lease.expiresAt = Math.max(lease.expiresAt, now + ttlMs)
      return true
    }
    if (now >= endsBy) return false
    lease.expiresAt = Math.max(lease.expiresAt, Math.min(now + ttlMs, endsBy))
    return true
  }

  /**
   * A completion report for `epoch`: 'accepted' (and the lease removed) only for the current
   * lease's epoch; 'stale' for any other epoch of a task this table has allocated epochs for
   * (older, already completed, expired or released); 'unknown' for a task it never leased.
   */
  complete(taskId: string, epoch: number): CompletionVerdict {
    const lease = this.leases.get(taskId)
    if (lease !== undefined && lease.epoch === epoch) {
      this.drop(lease)
      return 'accepted'
    }
    return this.epochs.has(taskId) ? 'stale' : 'unknown'
  }

  /** The holder hands the task back early; true when that was the current lease. */
  release(taskId: string, holder: string, epoch: number): boolean {
    const lease = this.current(taskId, holder, epoch)
    if (lease === undefined) return false
    this.drop(lease)
    return true
  }

  /**
   * Pushes every live lease's expiry (and `endsBy`) back by `ms` (the owner stalled that long: see
   * `stallAwareInterval`).
   */
  postponeAll(ms: number): void {
    for (const lease of this.leases.values()) {
      lease.expiresAt += ms
      if (lease.endsBy !== undefined) lease.endsBy += ms
    }
  }

  /** Removes and returns every lease with `expiresAt ≤ now`, earliest first; each is returned once. */
  expire(now: number): Lease[] {
    const expired: Lease[] = []
    for (const lease of this.leases.values()) if (lease.expiresAt <= now) expired.push(lease)
    for (const lease of expired) this.drop(lease)
    return expired.sort((a, b) => a.expiresAt - b.expiresAt).map((lease) => ({ ...lease }))
  }

  /** The earliest `expiresAt` among live leases, for arming a timer; undefined when none. */
  nextExpiry(): number | undefined {
    let next: number | undefined
    for (const lease of this.leases.values())
      if (next === undefined || lease.expiresAt < next) next = lease.expiresAt
    return next
  }

  /** The live lease on a task. */
  get(taskId: string): Lease | undefined {
    const lease = this.leases.get(taskId)
    return lease === undefined ? undefined : { ...lease }
  }

  /** The task ids of the live leases `holder` holds (read only; no copies). */
  taskIdsHeldBy(holder: string): ReadonlySet<string> {
    return this.holders.get(holder) ?? NONE
  }

  /** The live leases `holder` holds (e.g. to requeue them when that peer leaves). */
  byHolder(holder: string): Lease[] {
    const tasks = this.holders.get(holder)
    if (tasks === undefined) return []
    return [...tasks].map((taskId) => ({ ...this.leases.get(taskId)! }))
  }

  /** Drops a task's lease and epoch counter: call when it has its final result. */
  forget(taskId: string): void {
    const lease = this.leases.get(taskId)
    if (lease !== undefined) this.drop(lease)
    this.epochs.delete(taskId)
  }

  private current(taskId: string, holder: string, epoch: number): Lease | undefined {
    const lease = this.leases.get(taskId)
    return lease !== undefined && lease.holder === holder && lease.epoch === epoch ? lease : undefined
  }

  private drop(lease: Lease): void {
    this.leases.delete(lease.taskId)
    const tasks = this.holders.get(lease.holder)
    tasks?.delete(lease.taskId)
    if (tasks?.size === 0) this.holders.delete(lease.holder)
  }
}

import { OwnerDownError, UnknownTaskError } from '../../task/errors.ts'
import { ownerFailureRecord, type ResultPublisher } from '../results/result-publisher.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { TaskRunner } from '../run/task-runner.ts'
import type { TaskEvents } from '../story/task-events.ts'
import type { Thief } from '../thief/thief.ts'
import type { DependencyGate } from './dependencies.ts'
import { answered, OwnerDown, type OwnerDownOptions } from './owner-down.ts'
import type { OwnerLedger } from './owner-ledger.ts'
import type { FoundOwner } from './owner-search.ts'
import type { UnschedulableWatch } from './unschedulable.ts'

/** The error of a cancelled task's record. */
export const CANCELLED = 'cancelled'
/** Deadline of the DHT lookup a cancel of a task unknown here makes (it may have finished), ms. */
export const CANCEL_LOOKUP_MS = 2_000

/** How a task stands, as `taskState` reports it. */
export interface TaskState {
  state: 'waiting' | 'queued' | 'leased' | 'running' | 'unschedulable' | 'done' | 'unknown'
  /** What it waits for, why no node can run it, or who holds it. */
  reason?: string
  /** The task's owner, as the node that answered knows it (absent when it knows none). */
  owner?: string
}

/** What a cancel did: `cancelled` (the owner ended it), or `finished` (it had a result already). */
export interface CancelResult {
  taskId: string
  outcome: 'cancelled' | 'finished'
  /** The task's owner, which decided. */
  owner: string
}

/** Options of {@link TaskControl}. */
export interface TaskControlOptions {
  self: string
  gate: Pick<DependencyGate, 'has' | 'cancel' | 'missing'> & {
    /** The epoch floor a waiting task was taken over with (0: submitted here). */
    floor?(taskId: string): number
  }
  ledger: Pick<OwnerLedger, 'get' | 'cancel'>
  runner: Pick<TaskRunner, 'cancel' | 'isRunning'>
  thief: Pick<Thief, 'holds' | 'entry' | 'dropLease'>
  results: Pick<ResultStore, 'cached' | 'get'>
  unschedulable: Pick<UnschedulableWatch, 'get'>
  events: TaskEvents
  /** The owner this node guards the task for, as one of its custodians. */
  guardedOwner(taskId: string): string | undefined
  /** True for a task journalled here whose replay has not taken it back yet. @defaultValue never */
  replaying?(taskId: string): boolean
  /** Takes such a task back now (see `JournalReplay.takeBack`): a cancel needs its owner. */
  takeBack?(taskId: string): Promise<void>
  /** Publishes the owner's failed record (waiters, notices and the DHT see it). */
  publisher: Pick<ResultPublisher, 'publish'>
  /** Sends the cancel to the task's owner. */
  forwardCancel(owner: string, taskId: string): Promise<CancelResult>
  /** Asks the task's owner how it stands. */
  askState(owner: string, taskId: string): Promise<TaskState>
  /**
   * Asks the connected peers who owns a task this node knows nothing of (see `searchOwner`).
   * Without it, such a task is unknown here.
   */
  searchOwner?(taskId: string): Promise<FoundOwner | undefined>
  /** True for a peer this node declared dead (a lease holder says its lease's owner is down). */
  isDead?(peer: string): boolean
  /** Asks the connected peers about a task whose owner could not be reached (see `OwnerDown`). */
  surveyTask?: OwnerDownOptions['surveyTask']
  /** The cancel of a task this node runs under a dead owner's lease, taken over here (see `OwnerDown`). */
  takeOver?: OwnerDownOptions['takeOver']
}

/**
 * Cancellation by id and the state of a task. Only the owner cancels: a waiting task is dropped,
 * a queued one removed, a running one aborted through its handler's signal, a leased one's lease
 * revoked (the thief's next renewal is rejected and it aborts the run). The owner then publishes
 * the final record `failed` / `cancelled` under an epoch above every epoch it allocated, so a
 * result the thief may still send loses everywhere (fencing); dependents fail with it. Any other
 * node forwards the cancel to the owner it knows of (as the task's thief or custodian), else to
 * the owner its connected peers name; when that owner cannot be reached, to the node that took the
 * task over (see {@link OwnerDown}).
 */
export class TaskControl {
  private readonly down: OwnerDown

  constructor(private readonly opts: TaskControlOptions) {
    this.down = new OwnerDown(opts)
  }

  async cancel(taskId: string, opts: { forwarded?: boolean } = {}): Promise<CancelResult> {
    const { self, gate, ledger, results, events, publisher } = this.opts
    // journalled here before a restart, not taken back yet: taken now, to be cancelled below
    if (this.opts.replaying?.(taskId) === true) await this.opts.takeBack?.(taskId)
    const known = results.cached(taskId)
    if (known !== undefined) return { taskId, outcome: 'finished', owner: known.owner }
    // a task taken over is cancelled above every epoch its dead owner may have leased
    const floor = gate.floor?.(taskId) ?? 0
    const waiting = gate.cancel(taskId)
    if (waiting !== undefined) {
      events.emit(taskId, 'cancelled', { state: 'waiting' })
      const entry = { task: waiting, epoch: floor, attempts: [], dependencies: {} }
      await publisher.publish(ownerFailureRecord(entry, self, CANCELLED, floor))
      return { taskId, outcome: 'cancelled', owner: self }
    }
    // settled under the cancel's epoch: the lease is dropped (its renewal is rejected), and a late
    // completion or record of the lease's epoch is stale
    const cancelled = ledger.cancel(taskId)
    if (cancelled !== undefined) {
      this.opts.runner.cancel(taskId, CANCELLED) // a run here is aborted; its outcome is dropped
      await publisher.publish(ownerFailureRecord(cancelled.entry, self, CANCELLED, cancelled.epoch))
      return { taskId, outcome: 'cancelled', owner: self }
    }
    const forwarded = opts.forwarded === true
    const owner = this.ownerOf(taskId) ?? (forwarded ? undefined : (await this.search(taskId))?.owner)
    if (owner !== undefined && owner !== self && !forwarded) {
      events.emit(taskId, 'cancel-forwarded', { to: owner })
      try {
        return await this.opts.forwardCancel(owner, taskId)
      } catch (err) {
        if (answered(err)) throw err // the owner's own refusal, relayed
        return this.down.cancel(taskId, owner, err) // the owner cannot be reached
      }
    }
    // sent on by another node: only what this node can do itself (it holds the dead owner's lease)
    const taken = owner !== undefined && owner !== self ? await this.opts.takeOver?.(taskId) : undefined
    if (taken !== undefined) return taken
    const found = await results
      .get(taskId, { signal: AbortSignal.timeout(CANCEL_LOOKUP_MS) })
      .catch(() => undefined)
    if (found !== undefined) return { taskId, outcome: 'finished', owner: found.owner }
    if (owner !== undefined && this.opts.isDead?.(owner) === true) throw new OwnerDownError(owner, taskId)
    throw new UnknownTaskError(taskId)
  }

  /**
   * How the task stands here; a node that knows nothing of it asks the owner it guards the task
   * for, else the owner its connected peers name (unless `forwarded`) — and when that owner cannot
   * be reached, the node that took the task over, else a node that runs it.
   */
  async state(taskId: string, opts: { forwarded?: boolean } = {}): Promise<TaskState> {
    const local = this.localState(taskId)
    if (local.state !== 'unknown' || opts.forwarded === true || local.owner === this.opts.self) return local
    if (local.owner !== undefined) return this.askOwner(local.owner, taskId, local)
    const found = await this.search(taskId)
    if (found === undefined || found.owner === this.opts.self) return local
    if (found.state !== undefined) return found.state
    return this.askOwner(found.owner, taskId, { ...local, owner: found.owner })
  }

  /** The owner's answer; `fallback` when it refused, what other nodes tell when it cannot be reached. */
  private async askOwner(owner: string, taskId: string, fallback: TaskState): Promise<TaskState> {
    try {
      return await this.opts.askState(owner, taskId)
    } catch (err) {
      return answered(err) ? fallback : this.down.state(taskId, owner, fallback)
    }
  }

  /** How the task stands by what this node knows. */
  localState(taskId: string): TaskState {
    const { gate, ledger, thief, runner, results, self: owner } = this.opts
    const known = results.cached(taskId)
    if (known !== undefined) return { state: 'done', owner: known.owner }
    if (gate.has(taskId))
      return { state: 'waiting', reason: `waiting for ${gate.missing(taskId).join(', ')}`, owner }
    const own = ledger.get(taskId)
    if (own !== undefined) {
      const flagged = this.opts.unschedulable.get(taskId)
      if (flagged !== undefined && own.state === 'queued')
        return { state: 'unschedulable', reason: flagged.reasons.join('; '), owner }
      if (own.state === 'retrying') return { state: 'queued', reason: 'waiting to be retried', owner }
      return { state: own.state, owner }
    }
    const held = thief.entry(taskId)
    if (held !== undefined) {
      const state = runner.isRunning(taskId) ? 'running' : 'queued'
      const from = held.task.owner
      const down = this.opts.isDead?.(from) === true ? ', which is down' : ''
      return { state, reason: `held under a lease from ${from}${down}`, owner: from }
    }
    if (this.opts.replaying?.(taskId) === true)
      return {
        state: 'queued',
        reason: 'journalled here before a restart: queued again once replayed',
        owner,
      }
    const guarded = this.opts.guardedOwner(taskId)
    return guarded === undefined ? { state: 'unknown' } : { state: 'unknown', owner: guarded }
  }

  private ownerOf(taskId: string): string | undefined {
    return this.opts.thief.entry(taskId)?.task.owner ?? this.opts.guardedOwner(taskId)
  }

  private search(taskId: string): Promise<FoundOwner | undefined> {
    return this.opts.searchOwner?.(taskId).catch(() => undefined) ?? Promise.resolve(undefined)
  }
}

import type { RunOutcome } from '../../executor/executor.ts'
import { type BackoffPolicy, backoffDelayMs } from '../../policy/backoff.ts'
import { canRun, type DurationEstimator } from '../../policy/capacity.ts'
import type { NodeOffer, QueuedTask } from '../../policy/types.ts'
import { handlerRuns } from '../../task/task.ts'
import type { NodeCounters } from '../node-counters.ts'
import type { OfferDesk } from '../owner/offer-desk.ts'
import type { OwnerLedger } from '../owner/owner-ledger.ts'
import type { BeaconPublisher } from '../peers/beacons.ts'
import { type ResultPublisher, runRecord } from '../results/result-publisher.ts'
import { type TaskEvents, withStack } from '../story/task-events.ts'
import type { Thief } from '../thief/thief.ts'
import type { LocalQueue } from './local-queue.ts'
import type { RunEntry, TaskRunner } from './task-runner.ts'

/** Options of {@link RunLoop}. */
export interface RunLoopOptions {
  self: string
  offer: NodeOffer
  /** This node's speed factor (run times are observed as nominal work). */
  speed: number
  queue: LocalQueue
  runner: TaskRunner
  /** Owned tasks: a run begins under a fresh epoch; a failed attempt waits for its retry. */
  ledger: Pick<OwnerLedger, 'beginRun' | 'get' | 'isCurrent' | 'retryLater' | 'retryNow'>
  /** Tasks held under other owners' leases; steals when the queue runs short. */
  thief: Pick<Thief, 'entry' | 'isCurrent' | 'maybeSteal' | 'observeTaskMs' | 'handBack'>
  publisher: Pick<ResultPublisher, 'publish'>
  beacons: Pick<BeaconPublisher, 'soon'>
  /** Offers what stays queued to idle neighbours once the slots are filled. @defaultValue none */
  offers?: Pick<OfferDesk, 'consider'>
  estimator: DurationEstimator
  counters: NodeCounters
  events: TaskEvents
  backoff: BackoffPolicy
  random(): number
  /** True while the node runs: nothing starts (or is stolen) otherwise. */
  isRunning(): boolean
  /**
   * True while ended attempts count: while the node runs or drains. Once it stops, an attempt that
   * ends was cut off, not finished, and is dropped.
   */
  isLive(): boolean
}

/**
 * The node's run loop: fills free slots from the queue (owned tasks and tasks held under a lease
 * alike), steals when work runs short, and decides what an ended attempt leads to — a retry after
 * a backoff, or the task's record, which the {@link ResultPublisher} takes from there.
 */
export class RunLoop {
  private scheduled = false
  private readonly idleWaiters = new Set<() => void>()

  constructor(private readonly opts: RunLoopOptions) {
    opts.queue.onChange((change) => {
      if (change === 'added') this.schedule()
      else opts.beacons.soon()
    })
    opts.runner.onAttemptEnd((entry, outcome) => this.attemptEnded(entry, outcome))
  }

  /** Fills free slots on the next microtask (many events in one turn cost one pass). */
  schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.pump()
    })
  }

  /** Fills free slots from the queue, then steals if work is short. */
  private pump(): void {
    const { runner, queue, offer } = this.opts
    if (!this.opts.isRunning()) return
    const now = Date.now()
    while (runner.freeSlots > 0) {
      const free = runner.freeSlots
      const next = queue.pop(now, (t) => t.resources.slots <= free && canRun(offer, t))
      if (next === undefined) break
      this.start(next)
    }
    this.opts.offers?.consider()
    this.opts.beacons.soon()
    void this.opts.thief.maybeSteal()
  }

  private start(q: QueuedTask): void {
    const entry = this.opts.ledger.beginRun(q.id) ?? this.opts.thief.entry(q.id)
    if (entry === undefined) return
    this.opts.events.emit(q.id, 'started', { epoch: entry.epoch, attempt: handlerRuns(entry.attempts) + 1 })
    this.opts.runner.start(entry)
  }

  private attemptEnded(entry: RunEntry, outcome: RunOutcome): void {
    const { ledger, thief, counters, events } = this.opts
    // once this attempt's outcome is handed on (below), a drain waiting for the slots may go on
    if (this.opts.runner.runningCount === 0) queueMicrotask(() => this.wakeIdle())
    if (!this.opts.isLive()) return // stopping: the attempt was cut off, not finished
    const id = entry.task.id
    counters.executed++
    if (outcome.status === 'succeeded') {
      const ms = outcome.finishedAt - outcome.startedAt
      this.opts.estimator.observe(entry.task.spec.type, ms * this.opts.speed) // nominal work, comparable across nodes
      thief.observeTaskMs(ms)
    }
    const owned = ledger.isCurrent(entry)
    if (!owned && !thief.isCurrent(entry)) {
      events.emit(id, 'dropped', { epoch: entry.epoch, reason: 'lease revoked or task cancelled' })
      this.schedule() // the lease was revoked while it ran: its result would be stale
      return
    }
    const retry =
      outcome.status === 'failed' &&
      !outcome.unrecoverable &&
      !outcome.cancelled &&
      handlerRuns(entry.attempts) < entry.task.spec.maxAttempts
    if (!retry) void this.opts.publisher.publish(runRecord(entry, outcome, this.opts.self))
    else if (owned) this.retryOwned(entry)
    else {
      // the owner retries it where any node may steal it, not behind this node's busy slots
      counters.retried++
      events.emit(id, 'retried', withStack({ error: outcome.error ?? 'failed', by: 'owner' }, outcome.stack))
      void thief.handBack(entry, entry.attempts[entry.attempts.length - 1])
    }
    this.schedule()
  }

  /** Resolves once no attempt runs here (at once when none does), or when `signal` aborts. */
  whenIdle(signal?: AbortSignal): Promise<void> {
    if (this.opts.runner.runningCount === 0 || signal?.aborted === true) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done)
        this.idleWaiters.delete(done)
        resolve()
      }
      this.idleWaiters.add(done)
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  private wakeIdle(): void {
    for (const done of [...this.idleWaiters]) done()
  }

  /**
   * Queues an owned task whose attempt failed (here, or at a thief that handed it back) again after
   * a backoff with full jitter, stealable — unless it was settled, poisoned, cancelled or taken over
   * meanwhile.
   */
  retryOwned(entry: RunEntry): void {
    const id = entry.task.id
    const { attempts } = entry
    this.opts.counters.retried++
    this.opts.ledger.retryLater(id)
    const delay = backoffDelayMs(handlerRuns(attempts), this.opts.random, this.opts.backoff)
    const last = attempts[attempts.length - 1]
    const detail = { error: last?.error ?? 'failed', delayMs: Math.round(delay) }
    this.opts.events.emit(id, 'retried', withStack(detail, last?.stack))
    const timer = setTimeout(() => {
      if (this.opts.isLive()) this.opts.ledger.retryNow(entry)
    }, delay)
    timer.unref()
  }
}

import type { RunOutcome } from '../../executor/executor.ts'
import type { ResultRecord } from '../../protocol/records/result-record.ts'
import { Batcher } from '../../util/batcher.ts'
import { monotonicNow } from '../../util/clock.ts'
import { debounce } from '../../util/debounce.ts'
import { trimOldest } from '../../util/trim-oldest.ts'
import type { OwnerLedger } from '../owner/owner-ledger.ts'
import type { RunEntry } from '../run/task-runner.ts'
import { type TaskEventDetail, type TaskEvents, withStack } from '../story/task-events.ts'
import type { CompletionReporter } from '../thief/completion-reporter.ts'
import type { Thief } from '../thief/thief.ts'
import type { NoticeItem } from '../wire/gossip.ts'
import type { ResultFollower } from './result-follower.ts'
import type { ResultStore } from './result-store.ts'
import { publishSalvaging } from './salvage-record.ts'
import type { UnsentRecords } from './unsent-records.ts'

/**
 * Under load, result notices go out at most once per this window (a notice after a quiet spell
 * goes at once). Owners learn of completions directly, so notices serve other subscribers; each
 * notice costs every peer that gets it a decryption, a decode and a signature check, so they are
 * batched harder than anything on the task's own path.
 */
export const NOTICE_WINDOW_MS = 250

/** Contested notices a node remembers having sent, to send them again (see `ResultPublisher.recontest`). */
export const CONTESTED_MEMORY = 10_000
/**
 * A peer back from the dead may have missed the contested notices sent this long before it was
 * last heard from too (a notice and a beacon cross the mesh by different paths), ms.
 */
export const RECONTEST_MARGIN_MS = 10_000
/** Peers back within this long of each other have the contested notices sent again once, ms. */
export const RECONTEST_DELAY_MS = 500

/**
 * The record of a finished run of `entry` at `executor`. Its keys (and its attempts', see
 * `TaskRunner`) are written in sorted order: the text every signer and verifier hashes
 * (`canonicalJson`) is then what the native `JSON.stringify` writes, about twice as fast.
 */
export function runRecord(entry: RunEntry, outcome: RunOutcome, executor: string): ResultRecord {
  const { task } = entry
  const succeeded = outcome.status === 'succeeded'
  return {
    attempts: [...entry.attempts], // a copy: a run cut short may still report into the entry
    epoch: entry.epoch,
    ...(succeeded ? {} : { error: outcome.error ?? 'failed' }),
    executor,
    finishedAt: outcome.finishedAt,
    ...(entry.grant === undefined ? {} : { grant: entry.grant }),
    ...(succeeded ? { output: outcome.output ?? null } : {}),
    owner: task.owner,
    startedAt: entry.attempts[0]?.startedAt ?? outcome.startedAt,
    status: outcome.status,
    submittedAt: task.submittedAt,
    taskId: task.id,
    v: 1,
  }
}

/** A failed record the owner signs itself: a cancelled task, a failed dependency, poison. */
export function ownerFailureRecord(
  entry: RunEntry,
  self: string,
  error: string,
  epoch: number,
  now = Date.now(),
): ResultRecord {
  const { task } = entry
  // keys in sorted order (see runRecord)
  return {
    attempts: [...entry.attempts], // a copy: a run cut short may still report into the entry
    epoch,
    error,
    executor: self,
    finishedAt: now,
    owner: task.owner,
    startedAt: entry.attempts[0]?.startedAt ?? now,
    status: 'failed',
    submittedAt: task.submittedAt,
    taskId: task.id,
    v: 1,
  }
}

/** Options of {@link ResultPublisher}. */
export interface ResultPublisherOptions {
  /** Signs, keeps and stores records (locally and at the closest peers). */
  results: Pick<ResultStore, 'publish' | 'cached' | 'local' | 'cachedValue' | 'replicate' | 'refresh'>
  /** Settles tasks this node owns. */
  ledger: Pick<OwnerLedger, 'settle'>
  /** Ends the leases of tasks this node held for other owners. */
  thief: Pick<Thief, 'settle'>
  /** Tells owners of tasks held here under their lease. */
  completions: Pick<CompletionReporter, 'report'>
  /** Gossips result notices (batched). */
  notify(items: NoticeItem[]): void
  /**
   * True when a record of the task may lose to another run of it (the task was taken over by
   * adoption or journal replay here): its notice goes to every node. @defaultValue never
   */
  contested?(taskId: string): boolean
  /** Checks a record published here against a run elsewhere that may beat it. */
  follower: Pick<ResultFollower, 'published' | 'contestedSince' | 'relayHeard' | 'stopRelays'>
  events: TaskEvents
  /** Told when a record's notice is out (its marker goes once a copy is too). @defaultValue none */
  unsent?: Pick<UnsentRecords, 'announced' | 'forget'>
}

/**
 * The one way a record made by this node leaves it, whatever ended the task — a run here, a
 * cancel, a failed dependency, poison: the task is settled (the lease held here ends, or the
 * owned task leaves the ledger), the record is signed and stored (locally at once, at the closest
 * peers in the background), its owner hears of it when the task was held under a lease, and a
 * batched notice tells the mesh.
 */
export class ResultPublisher {
  private readonly notices: Batcher<NoticeItem>
  /** Publications whose local copy is not written yet. */
  private readonly inFlight = new Set<Promise<void>>()
  /** Tasks settled here whose record is not signed and kept yet (see {@link producing}). */
  private readonly unsigned = new Set<string>()
  /** Contested notices sent, oldest first, with when (see {@link recontest}). */
  private readonly sentContested = new Map<string, { notice: NoticeItem['notice']; at: number }>()
  private recontestSince = Number.POSITIVE_INFINITY
  private readonly recontestSoon = debounce(() => this.sendContestedAgain(), RECONTEST_DELAY_MS)
  private stopped = false

  constructor(private readonly opts: ResultPublisherOptions) {
    // a record whose completion its owner called stale, or never answered, may lose to another run
    opts.events.on((e) => {
      if (e.event !== 'completion-stale' && e.event !== 'completion-undelivered') return
      const mine = opts.results.cached(e.taskId)
      if (mine !== undefined) this.contest(mine)
    })
    this.notices = new Batcher(NOTICE_WINDOW_MS, (batch) => {
      opts.notify(batch)
      const now = monotonicNow() // the clock of the liveness watch's `lastHeardAt` (see recontest)
      for (const { notice: n, contested, again } of batch) {
        if (contested && n.executor === undefined) {
          this.sentContested.delete(n.taskId)
          this.sentContested.set(n.taskId, { notice: n, at: now })
        }
        if (again === true) continue // its story told it the first time
        opts.events.emit(n.taskId, 'stored', { status: n.status, epoch: n.epoch })
        opts.unsent?.announced(n.taskId)
      }
      trimOldest(this.sentContested, CONTESTED_MEMORY)
    })
  }

  /** Publishes `record` (made here) and ends the task here; resolves once the local copy is written. */
  publish(record: ResultRecord): Promise<void> {
    const done = this.send(record)
    this.inFlight.add(done)
    void done.finally(() => this.inFlight.delete(done))
    return done
  }

  /**
   * True while the task's record is being made here: the task is settled (it left the ledger, or
   * the lease held here ended) but its record is not signed and kept yet — for a signing window,
   * longer on a loaded loop. A reader waits for it here rather than looking it up in the DHT.
   */
  producing(taskId: string): boolean {
    return this.unsigned.has(taskId)
  }

  /** Resolves once every publication started so far has its local copy written (and its copies queued). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight])
  }

  private async send(record: ResultRecord): Promise<void> {
    const { taskId, status, epoch } = record
    const { error } = record
    const detail: TaskEventDetail = error === undefined ? { status, epoch } : { status, epoch, error }
    this.opts.events.emit(taskId, 'finished', withStack(detail, error && record.attempts.at(-1)?.stack))
    // a record of a second or later epoch beats an earlier run's, which may be held somewhere
    const contested = epoch > 1 || this.opts.contested?.(taskId) === true
    this.unsigned.add(taskId)
    const owner = this.opts.thief.settle(taskId)
    if (owner === undefined) this.opts.ledger.settle(taskId, epoch)
    // a thief's completion leaves once the record is signed, not after its local write, and
    // carries the owner's copy: the owner gets no `store` frame for it
    const signedAs =
      (made: ResultRecord) =>
      (value: Uint8Array): string | undefined => {
        this.unsigned.delete(taskId) // kept in memory now: waiters have it
        return owner === undefined ? undefined : this.opts.completions.report(owner, made, value)
      }
    let published: ResultRecord
    try {
      // a record that breaks a bound (errors too long for it, say) ends the task failed, saying so
      published = await publishSalvaging(record, (r) => this.opts.results.publish(r, { signed: signedAs(r) }))
    } finally {
      this.unsigned.delete(taskId)
    }
    this.opts.follower.published(taskId)
    this.notices.add({ notice: { taskId, status: published.status, epoch }, contested })
  }

  /**
   * A record published here may lose to another run: its owner called the completion stale, or
   * never answered. Every node hears of it, so whoever holds the record that beats it keeps that.
   */
  contest(record: Pick<ResultRecord, 'taskId' | 'status' | 'epoch'>): void {
    this.notices.add({
      notice: { taskId: record.taskId, status: record.status, epoch: record.epoch },
      contested: true,
    })
  }

  /**
   * Sends again the copies and a notice (to every node) of records made here that an earlier life
   * of the node may not have sent (see `UnsentRecords`): each marker ends once both are out again.
   */
  async resend(ids: string[]): Promise<void> {
    const { results } = this.opts
    for (const id of ids) {
      const record = await results.local(id).catch(() => undefined)
      const value = results.cachedValue(id)
      if (record === undefined || value === undefined) {
        this.opts.unsent?.forget(id)
        continue
      }
      results.replicate(id, value)
      this.contest(record)
    }
  }

  /**
   * Sends again, to every node, the contested notices sent here since `since` (ms), and reads
   * again from the mesh the records of those tasks and of the tasks whose contested notices were
   * heard here since then: a peer that was cut off then (declared dead, and now back) missed them,
   * and may hold a record of another run that this node's beats — or the one that beats this
   * node's, whose maker may not send its notice again (it may have restarted since, or be cut off
   * in turn) while copies of it are at the peers closest to its key. Calls within
   * {@link RECONTEST_DELAY_MS} of each other make one sending.
   */
  recontest(since: number): void {
    if (this.stopped) return
    this.recontestSince = Math.min(this.recontestSince, since)
    this.recontestSoon()
  }

  private sendContestedAgain(): void {
    const since = this.recontestSince
    this.recontestSince = Number.POSITIVE_INFINITY
    if (this.stopped) return
    const again = [...this.sentContested.values()].filter((s) => s.at >= since)
    const own = new Set<string>()
    for (const { notice } of again) {
      this.notices.add({ notice, contested: true, again: true })
      own.add(notice.taskId)
    }
    void this.rereadAndRelay(since, own)
  }

  /** Reads again the records of the contested tasks made or heard of here since `since`; relays the heard ones. */
  private async rereadAndRelay(since: number, own: ReadonlySet<string>): Promise<void> {
    const { follower, results } = this.opts
    const heard = await follower.contestedSince(since)
    if (this.stopped) return
    for (const taskId of new Set([...own, ...heard])) results.refresh(taskId)
    follower.relayHeard(heard, own)
  }

  /**
   * Sends a notice of a record held here, made elsewhere (its `executor` named), again (see
   * `ResultFollower.relayHeard`). It is not this node's contested notice: a later return of a
   * peer relays it again only if it was heard again.
   */
  relay(notice: NoticeItem['notice']): void {
    if (this.stopped) return
    this.notices.add({ notice, contested: true, again: true })
  }

  /** Sends the pending notices now (the node stops): none is sent again after. */
  flushNow(): void {
    this.stopped = true
    this.opts.follower.stopRelays()
    this.notices.flushNow()
  }
}

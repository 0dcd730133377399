import type { Task } from '../../task/task.ts'
import type { Takeover } from '../owner/intake.ts'
import type { TaskJournal } from '../owner/journal.ts'
import { type JournalDamage, journalDamageMessages } from '../owner/journal-lines.ts'
import type { OwnerLedger } from '../owner/owner-ledger.ts'
import type { ResultStore } from '../results/result-store.ts'

/** Options of {@link JournalReplay}. */
export interface JournalReplayOptions {
  self: string
  ledger: Pick<OwnerLedger, 'has' | 'markDone' | 'journalTasks'>
  /**
   * Takes a replayed task into ownership again (`Intake.own`): queued, or — with dependencies —
   * waiting for them again; false when it is owned or waiting already.
   */
  own(task: Task, how: Takeover): boolean
  results: Pick<ResultStore, 'local' | 'refresh'>
  /**
   * Looks the tasks' results up in the DHT and calls `use` per chunk of them (`checked`) with those
   * whose result it does not find (`open`), as soon as that chunk's lookups end (`Custodian.eachOpen`).
   */
  eachOpen(tasks: Task[], use: (chunk: { checked: Task[]; open: Task[] }) => Promise<void>): Promise<void>
  /**
   * The ids of these tasks a peer says it took over while this node was down (see
   * `takenElsewhere`): marked done here, not run again. @defaultValue none asked
   */
  takenElsewhere?(ids: string[]): Promise<Set<string>>
  /** Tasks were taken into ownership again. */
  requeue(tasks: Task[]): Promise<void>
  /** How long to wait for a first peer before requeueing without asking the DHT, ms. */
  waitForPeersMs: number
  /**
   * The records an earlier life made whose copies may not have left (`UnsentRecords`): read at
   * start, sent again once a peer is heard. @defaultValue none
   */
  unsent?: { load(): Promise<string[]>; resend(ids: string[]): void }
  /**
   * The journal `ledger.journalTasks` replays: what its replay found damaged is told to
   * {@link onJournalDamage}. @defaultValue none
   */
  journal?: Pick<TaskJournal, 'damage'>
  /**
   * Called at start, once per kind of damage the journal's replay found (lines skipped, a torn last
   * line cut), with a message to log as a warning (see `journalDamageMessages`). @defaultValue none
   */
  onJournalDamage?: (message: string, damage: Readonly<JournalDamage>) => void
}

/**
 * A restart (promise 9): every task the journal holds as accepted and not done is owned and
 * queued again, under epochs above every one allocated before the crash — but not at once. A task
 * with dependencies waits for them again (`Intake.own`): released once they all succeeded (their
 * records replayed, stored here, or found in the mesh), failed when one failed.
 *
 * While this daemon was down its peers may have adopted its tasks and run them, and a daemon
 * that has just started is in no mesh yet: tasks it ran at once would be run again, and the
 * notices of their results would reach no one, so nodes holding the adopter's record would keep
 * reading it though the replay's record (of a higher epoch) wins the selector. So the replay waits
 * for a first peer (or `waitForPeersMs`, for a daemon alone), asks the DHT, and requeues only the
 * tasks without a result, a chunk of lookups at a time (the first after 64); the others are marked
 * done. A task whose record is in the local store
 * is marked done at start, and read again from the DHT once a peer is heard (a later run
 * elsewhere beats it). Nothing is lost meanwhile: the journal keeps every task open until done.
 * Records made here whose copies or notice an earlier life may not have sent go out again then.
 * Lines of the journal its replay skipped, or cut, are told at start (`onJournalDamage`).
 */
export class JournalReplay {
  private pending: Task[] = []
  /** Journalled tasks not taken back yet, nor found done: their replay waits (see {@link replaying}). */
  private readonly waiting = new Set<string>()
  private storedHere: string[] = []
  private unsent: string[] = []
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  /** A peer was heard: what is taken back is looked up in the DHT first. */
  private heard = false
  /** The requeues under way, if any: each settles once its tasks are taken back or done. */
  private requeuing: Promise<void> = Promise.resolve()

  constructor(private readonly opts: JournalReplayOptions) {}

  /** Reads the journal: marks done what the local store has; waits for a peer to requeue the rest. */
  async start(): Promise<void> {
    this.unsent = (await this.opts.unsent?.load().catch(() => undefined)) ?? []
    const replayed = await this.opts.ledger.journalTasks()
    const damage = this.opts.journal?.damage
    if (damage !== undefined)
      for (const message of journalDamageMessages(damage)) this.opts.onJournalDamage?.(message, damage)
    for (const journalled of replayed) {
      if (this.opts.ledger.has(journalled.id)) continue
      const stored = await this.opts.results.local(journalled.id).catch(() => undefined)
      if (stored !== undefined) {
        this.opts.ledger.markDone(journalled.id)
        this.storedHere.push(journalled.id)
      } else {
        this.pending.push(journalled)
        this.waiting.add(journalled.id)
      }
    }
    if (this.pending.length === 0) return
    this.timer = setTimeout(() => this.requeueSoon(false), this.opts.waitForPeersMs)
    this.timer.unref()
  }

  /** A peer was heard: the DHT can be asked now. */
  onPeerHeard(): void {
    if (this.unsent.length > 0) {
      this.opts.unsent?.resend(this.unsent)
      this.unsent = []
    }
    if (this.storedHere.length > 0) {
      for (const id of this.storedHere) this.opts.results.refresh(id)
      this.storedHere = []
    }
    this.heard = true
    if (this.pending.length > 0) this.requeueSoon(true)
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  /**
   * True for a task the journal holds open that this node has not taken back yet: its replay waits
   * for a peer (or the failure-detection window), or for its lookups. It is this node's, queued
   * again once the replay reaches it — not a task no node knows.
   */
  replaying(taskId: string): boolean {
    return this.waiting.has(taskId)
  }

  /**
   * Takes one task the replay has not reached yet back now, as the replay would (a result found
   * once a peer was heard, or one a peer took over, makes it done instead): for a cancel, which
   * only an owner can carry out. Resolves once the task is owned here, or done.
   */
  async takeBack(taskId: string): Promise<void> {
    const at = this.pending.findIndex((t) => t.id === taskId)
    if (at === -1) return this.requeuing // in the requeue under way: taken back (or done) by its end
    const [task] = this.pending.splice(at, 1)
    await this.check([task], this.heard)
  }

  private requeueSoon(askDht: boolean): void {
    const next = this.requeue(askDht)
    this.requeuing = Promise.all([this.requeuing, next]).then(() => undefined)
  }

  private async requeue(askDht: boolean): Promise<void> {
    clearTimeout(this.timer)
    const tasks = this.pending
    this.pending = []
    await this.check(tasks, askDht)
  }

  /** Takes `tasks` back — with `askDht`, those the mesh has no result for and no peer took over. */
  private async check(tasks: Task[], askDht: boolean): Promise<void> {
    if (tasks.length === 0 || this.stopped) return
    if (!askDht) return this.take(tasks)
    // a chunk's open tasks are queued while the next chunk is looked up: work starts at once
    await this.opts.eachOpen(tasks, async ({ checked, open }) => {
      if (this.stopped) return
      const stillOpen = new Set(open)
      for (const t of checked) if (!stillOpen.has(t)) this.done(t.id)
      // a task a custodian adopted while this node was down is the adopter's now
      const taken =
        open.length === 0
          ? undefined
          : await this.opts.takenElsewhere?.(open.map((t) => t.id)).catch(() => undefined)
      if (taken === undefined || taken.size === 0) return this.take(open)
      for (const t of open) if (taken.has(t.id)) this.done(t.id)
      await this.take(open.filter((t) => !taken.has(t.id)))
    })
  }

  /** A journalled task has a result, or is another node's now: done here. */
  private done(taskId: string): void {
    this.waiting.delete(taskId)
    this.opts.ledger.markDone(taskId)
  }

  /** Owns and queues again the tasks of `open` that are not owned yet. */
  private async take(open: Task[]): Promise<void> {
    const floor = Date.now()
    const requeued: Task[] = []
    for (const journalled of open) {
      this.waiting.delete(journalled.id)
      if (this.opts.ledger.has(journalled.id)) continue
      const task = journalled.owner === this.opts.self ? journalled : { ...journalled, owner: this.opts.self }
      if (this.opts.own(task, { as: 'replayed', floor })) requeued.push(task)
    }
    if (requeued.length > 0) await this.opts.requeue(requeued)
  }
}

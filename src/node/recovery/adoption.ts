import type { Announcement, ResultNotice } from '../../protocol/messages.ts'
import type { ResultRecord } from '../../protocol/result-record.ts'
import type { Task } from '../../task/task.ts'
import { DEFAULT_ANNOUNCED_MEMORY } from '../options.ts'
import type { Takeover } from '../owner/intake.ts'
import type { OwnerLedger } from '../owner/owner-ledger.ts'
import type { LivenessWatch } from '../peers/liveness-watch.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { Thief } from '../thief/thief.ts'
import { successorOf } from './successor.ts'

/** DHT lookups in flight at once while a successor checks the tasks it would adopt. */
export const ADOPTION_LOOKUPS = 8
/** Longest one such lookup may take, ms. */
export const ADOPTION_LOOKUP_MS = 5_000
/**
 * Sweeps in which a task's lookup may fail (time out, no peer answers) before the successor adopts
 * it all the same: a failed lookup is no evidence that the result is missing, so adoption waits for
 * another sweep; after this many, nothing is lost for a DHT that does not answer (results are
 * idempotent).
 */
export const ADOPTION_LOOKUP_TRIES = 3

/** Options of {@link Adopter}. */
export interface AdopterOptions {
  /** This node's peer id. */
  self: string
  /** Which peers are alive. */
  liveness: Pick<LivenessWatch, 'isDead' | 'live' | 'heard'>
  /** Tells whether the node owns a task already; its journal is written before announcing. */
  ledger: Pick<OwnerLedger, 'has' | 'journalled'>
  /** Takes an orphan into ownership (queued, or waiting for its dependencies). */
  own(task: Task, how: Takeover): boolean
  /** Tasks this node holds under a lease are running here already: never adopted. */
  thief: Pick<Thief, 'holds'>
  /** Results known here, or in the DHT. */
  results: Pick<ResultStore, 'cached' | 'get'>
  /** Announces tasks this node now owns. */
  announce(tasks: Task[]): Promise<void>
  /** A peer silent this long is declared dead, ms (the period of sweeps while orphans remain). */
  failureDetectionMs: number
  /** Tasks were adopted; `why` tells, per task id, what the DHT lookup found. */
  onAdopted(tasks: Task[], why: Map<string, string>): void
  /**
   * True for owners whose tasks this node may adopt (see `ownerFilter`): the announcements of any
   * other are not remembered, and their tasks never adopted. @defaultValue every owner
   */
  admits?(owner: string): boolean
}

/**
 * Owner death (promise 1): every node remembers the tasks announced to it, by owner. When an owner
 * is declared dead, every node computes each orphan's successor — the live peer, itself included,
 * closest to the task id by XOR distance. The successor looks the result up in the DHT and,
 * finding none, adopts the task: owns it (journalled), queues it and announces it again as its
 * owner, under epochs above the dead owner's. Two adopters (nodes whose views differ) converge:
 * results are idempotent by task id and the record selector is deterministic.
 */
export class Adopter {
  /** Announced tasks with no known result, by owner. */
  private readonly byOwner = new Map<string, Map<string, Task>>()
  /** The owner each remembered task was last announced by, oldest first (for eviction). */
  private readonly ownerOf = new Map<string, string>()
  private adopting = false
  private lastSweep = 0
  private stopped = false
  /** Remembered tasks whose lookup failed, and how many times (see {@link ADOPTION_LOOKUP_TRIES}). */
  private readonly failedLookups = new Map<string, number>()

  constructor(private readonly opts: AdopterOptions) {}

  stop(): void {
    this.stopped = true
  }

  /** Remembered tasks announced by peers and without a known result. */
  get remembered(): number {
    return this.ownerOf.size
  }

  /**
   * A liveness check ran: when peers died or came back (`changed`), or now and then while orphans
   * remain (views converge over time), the orphans are looked at again.
   */
  onCheck(changed: boolean): void {
    if (this.stopped) return
    const due = Date.now() - this.lastSweep >= this.opts.failureDetectionMs && this.hasOrphans()
    if (changed || due) void this.adoptOrphans()
  }

  /**
   * The tasks of `tasks` whose result a DHT lookup does not find (journal replay asks this after a
   * restart); a failed lookup counts as none.
   */
  async openOf(tasks: Task[]): Promise<Task[]> {
    return (await this.withoutResult(tasks, false)).open
  }

  // ------------------------------------------------------------------ gossip

  onAnnouncement(from: string, msg: Announcement): void {
    if (from === this.opts.self) return
    this.opts.liveness.heard(from)
    for (const task of msg.tasks) {
      if (this.opts.results.cached(task.id) !== undefined || !this.admits(task.owner)) continue
      this.remember(task)
    }
  }

  onResultNotice(_from: string, msg: ResultNotice): void {
    for (const { taskId } of msg.results) this.forget(taskId)
  }

  // ------------------------------------------------------------------ owner death

  private hasOrphans(): boolean {
    for (const owner of this.byOwner.keys()) if (this.opts.liveness.isDead(owner)) return true
    return false
  }

  /** Adopts every remembered task of a dead owner whose successor is this node and has no result. */
  private async adoptOrphans(): Promise<void> {
    if (this.adopting) return
    this.adopting = true
    this.lastSweep = Date.now()
    try {
      const { liveness } = this.opts
      const candidates = [this.opts.self, ...liveness.live()]
      const mine: Task[] = []
      for (const [owner, tasks] of this.byOwner) {
        if (owner === this.opts.self || !liveness.isDead(owner) || !this.admits(owner)) continue
        for (const task of tasks.values()) {
          if (this.settledHere(task.id)) this.forget(task.id)
          else if (successorOf(task.id, candidates) === this.opts.self) mine.push(task)
        }
      }
      if (mine.length === 0) return
      const { open, why } = await this.withoutResult(mine, true)
      if (this.stopped) return
      const floor = Date.now()
      const adopted: Task[] = []
      for (const orphan of open) {
        // the owner may be back, or the task done or adopted, while the DHT was asked
        if (!liveness.isDead(orphan.owner) || this.settledHere(orphan.id)) continue
        const task = { ...orphan, owner: this.opts.self }
        if (this.opts.own(task, { as: 'adopted', floor })) adopted.push(task)
        this.forget(orphan.id)
      }
      if (adopted.length === 0) return
      this.opts.onAdopted(adopted, why)
      await this.opts.ledger.journalled().catch(() => undefined)
      await this.opts.announce(adopted)
    } finally {
      this.adopting = false
    }
  }

  private admits(owner: string): boolean {
    return this.opts.admits?.(owner) ?? true
  }

  /** True when the task has a result known here, or is owned or held here already. */
  private settledHere(taskId: string): boolean {
    return (
      this.opts.results.cached(taskId) !== undefined ||
      this.opts.ledger.has(taskId) ||
      this.opts.thief.holds(taskId)
    )
  }

  /**
   * The tasks whose result a DHT lookup does not find, and why each is open. A failed lookup
   * counts as none, except with `deferFailed`: then the task is left out (looked up again at the
   * next sweep) until its lookup failed {@link ADOPTION_LOOKUP_TRIES} times.
   */
  private async withoutResult(
    tasks: Task[],
    deferFailed: boolean,
  ): Promise<{ open: Task[]; why: Map<string, string> }> {
    const open: Task[] = []
    const why = new Map<string, string>()
    let next = 0
    const worker = async () => {
      while (next < tasks.length && !this.stopped) {
        const task = tasks[next++]
        let found: ResultRecord | undefined
        try {
          found = await this.opts.results.get(task.id, {
            skipCache: true,
            signal: AbortSignal.timeout(ADOPTION_LOOKUP_MS),
          })
        } catch (err) {
          const failures = (this.failedLookups.get(task.id) ?? 0) + 1
          if (deferFailed && failures < ADOPTION_LOOKUP_TRIES) {
            this.failedLookups.set(task.id, failures)
            continue
          }
          this.failedLookups.delete(task.id)
          open.push(task)
          why.set(task.id, `lookup failed ${failures}×: ${(err as Error).message}`)
          continue
        }
        this.failedLookups.delete(task.id)
        if (found === undefined) {
          open.push(task)
          why.set(task.id, 'no record found')
        } else this.forget(task.id)
      }
    }
    await Promise.all(Array.from({ length: Math.min(ADOPTION_LOOKUPS, tasks.length) }, worker))
    return { open, why }
  }

  // ------------------------------------------------------------------ memory

  private remember(task: Task): void {
    const prev = this.ownerOf.get(task.id)
    if (prev !== undefined) {
      this.byOwner.get(prev)?.delete(task.id)
      this.ownerOf.delete(task.id)
    }
    let tasks = this.byOwner.get(task.owner)
    if (tasks === undefined) {
      tasks = new Map()
      this.byOwner.set(task.owner, tasks)
    }
    tasks.set(task.id, task)
    this.ownerOf.set(task.id, task.owner)
    if (this.ownerOf.size > DEFAULT_ANNOUNCED_MEMORY) {
      const oldest = this.ownerOf.keys().next().value
      if (oldest !== undefined) this.forget(oldest)
    }
  }

  private forget(taskId: string): void {
    this.failedLookups.delete(taskId)
    const owner = this.ownerOf.get(taskId)
    if (owner === undefined) return
    this.ownerOf.delete(taskId)
    const tasks = this.byOwner.get(owner)
    tasks?.delete(taskId)
    if (tasks?.size === 0) this.byOwner.delete(owner)
  }
}

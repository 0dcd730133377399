import type { CustodyFrame, CustodyReply } from '../../protocol/messages/custody-messages.ts'
import { shareParts, type Task } from '../../task/task.ts'
import { monotonicNow } from '../../util/clock.ts'
import { type CustodianOptions, DEFAULT_CUSTODY_BYTES, DEFAULT_CUSTODY_MEMORY } from './custodian-options.ts'
import { largestOwner } from './custody-memory.ts'
import { type CheckedChunk, OpenLookups } from './open-lookups.ts'
import { successorOf } from './successor.ts'
import type { LeftTo } from './successor-check.ts'
import {
  checkSuccessors,
  guardedElsewhere,
  knownOf,
  SuccessorPatience,
  splitBySuccessor,
} from './successor-check.ts'

interface Guarded {
  /** Every custodian the owner named in its last `hold` (this node among them). */
  custodians: string[]
  tasks: Map<string, Task>
  /** The bytes of its `hold` frames its tasks came in (a frame's length shared among its tasks). */
  bytes: number
}

/**
 * Custody and owner death (promise 1). An owner hands the specs of its open tasks to a few
 * custodians (`hold`) and tells them when they end (`drop`); only they remember its tasks. When an
 * owner is declared dead, each custodian computes every orphan's successor — the live custodian
 * of that owner, itself included, closest to the task id by XOR distance. The successor looks the
 * result up in the DHT and, finding none, adopts the task: owns it (journalled), queues it and
 * hands it to its own custodians, under epochs above the dead owner's. Two adopters (custodians
 * whose views differ) converge: results are idempotent by task id and the selector is deterministic.
 */
export class Custodian {
  private readonly byOwner = new Map<string, Guarded>()
  /** The owner of each guarded task, oldest first (for eviction). */
  private readonly ownerOf = new Map<string, string>()
  private adopting = false
  private lastSweep = 0
  private stopped = false
  private readonly lookups: OpenLookups
  private readonly patience = new SuccessorPatience()
  /** The bytes each guarded task takes (see `Guarded.bytes`), and their sum. */
  private readonly sizes = new Map<string, number>()
  private bytes = 0

  constructor(private readonly opts: CustodianOptions) {
    this.lookups = new OpenLookups({
      results: opts.results,
      batch: opts.batch,
      stopped: () => this.stopped,
      found: (taskId) => this.forget(taskId),
    })
  }

  stop(): void {
    this.stopped = true
  }

  /** Tasks of other owners guarded here. */
  get guarded(): number {
    return this.ownerOf.size
  }

  /** True when this node guards tasks of `owner`. */
  guards(owner: string): boolean {
    return this.byOwner.has(owner)
  }

  /** The owner of a task guarded here. */
  owner(taskId: string): string | undefined {
    return this.ownerOf.get(taskId)
  }

  /**
   * True when the task is guarded here for an owner declared dead and this node is its successor:
   * the node the owner's other custodians leave it to. Such a task that this node runs under the
   * dead owner's lease is adopted by no one while that run lasts (see {@link orphans}).
   */
  leftHere(taskId: string): boolean {
    const owner = this.ownerOf.get(taskId)
    const guarded = owner === undefined ? undefined : this.byOwner.get(owner)
    if (owner === undefined || guarded === undefined || !this.opts.liveness.isDead(owner)) return false
    return successorOf(taskId, this.liveCustodians(guarded)) === this.opts.self
  }

  /** Serves an owner's custody frame (`from` is the connection's peer). */
  handle(from: string, frame: CustodyFrame, bytes = 0): CustodyReply {
    const { requestId } = frame
    if (frame.type === 'query') {
      const { results, ledger, thief } = this.opts
      const known = knownOf(frame.ids, this.byOwner.get(frame.owner)?.tasks, {
        taken: (id) => results.cached(id) !== undefined || ledger.has(id),
        runs: (id) => thief.holds(id),
      })
      // the owner itself asks: it is back and replays what is not taken, so none of it is adopted here
      if (frame.owner === from) for (const id of known.guarded) this.forget(id)
      return { type: 'known', requestId, ...known }
    }
    if (this.opts.admits?.(from) === false) {
      return {
        type: 'error',
        requestId,
        code: 'ERR_NOT_ALLOWED',
        message: `${from} is not on this node's allow-list`,
      }
    }
    if (frame.type === 'drop') {
      for (const id of frame.ids) if (this.ownerOf.get(id) === from) this.forget(id)
      return { type: 'held', requestId, held: this.byOwner.get(from)?.tasks.size ?? 0 }
    }
    if (frame.type === 'forget') {
      // a new life of the owner: what the earlier one handed here is void
      for (const id of [...(this.byOwner.get(from)?.tasks.keys() ?? [])]) this.forget(id)
      return { type: 'held', requestId, held: 0 }
    }
    const forged = frame.tasks.find((t) => t.owner !== from)
    if (forged !== undefined) {
      return {
        type: 'error',
        requestId,
        code: 'ERR_NOT_OWNER',
        message: `task ${forged.id} is owned by ${forged.owner}, not ${from}`,
      }
    }
    let guarded = this.byOwner.get(from)
    if (guarded === undefined) {
      // a list update for an owner whose tasks all ended here needs no entry
      if (frame.tasks.length === 0) return { type: 'held', requestId, held: 0 }
      guarded = { custodians: [], tasks: new Map(), bytes: 0 }
      this.byOwner.set(from, guarded)
    }
    guarded.custodians = frame.custodians.map((c) => c.peerId)
    for (const c of frame.custodians) if (c.peerId !== this.opts.self) this.opts.meet?.(c)
    const each = Math.ceil(bytes / Math.max(1, frame.tasks.length))
    for (const task of frame.tasks)
      if (this.opts.results.cached(task.id) === undefined) this.remember(from, task, each)
    return { type: 'held', requestId, held: guarded.tasks.size }
  }

  /**
   * A liveness check ran: when peers died or came back (`changed`), or now and then while orphans
   * remain (views converge over time), the orphans are looked at again.
   */
  onCheck(changed: boolean): void {
    if (this.stopped) return
    const due = monotonicNow() - this.lastSweep >= this.opts.failureDetectionMs && this.hasOrphans()
    if (changed || due) void this.adoptOrphans()
  }

  /**
   * Looks up the result of each of `tasks` in the DHT, in chunks, and hands on each chunk with the
   * tasks whose result was not found (a failed lookup counts as none) as soon as its lookups end.
   */
  eachOpen(tasks: Task[], use: (chunk: CheckedChunk) => Promise<void>): Promise<void> {
    return this.lookups.each(tasks, false, use)
  }

  private hasOrphans(): boolean {
    for (const owner of this.byOwner.keys()) if (this.opts.liveness.isDead(owner)) return true
    return false
  }

  /** Adopts every guarded task of a dead owner whose successor is this node and has no result. */
  private async adoptOrphans(): Promise<void> {
    if (this.adopting) return
    this.adopting = true
    this.lastSweep = monotonicNow()
    try {
      const { mine, leftTo } = this.orphans()
      // a successor that never got a task would leave it unadopted: what it does not know is ours
      // (asked while this node adopts its own share: a slow successor delays none of that)
      const { ask } = this.opts
      const asked = ask !== undefined && leftTo.size > 0 ? checkSuccessors(leftTo, ask) : undefined
      await this.adopt(mine)
      if (asked === undefined) return
      const answer = await asked
      for (const id of answer.taken) this.forget(id)
      // a successor that says it guards a task sweep after sweep, and never adopts it, is not waited for
      await this.adopt([...answer.unknown, ...this.patience.overdue(guardedElsewhere(leftTo, answer))])
    } finally {
      this.adopting = false
    }
  }

  /**
   * The guarded tasks of dead owners this node is the successor of, and the others by successor.
   * A task this node runs under the dead owner's lease stays guarded here, neither adopted nor left
   * to another: its record ends it, and should the lease end without one, it is an orphan again.
   */
  private orphans(): { mine: Task[]; leftTo: LeftTo } {
    const { liveness, self, results, ledger, thief } = this.opts
    const mine: Task[] = []
    const leftTo: LeftTo = new Map()
    for (const [owner, guarded] of this.byOwner) {
      if (!liveness.isDead(owner)) continue
      const open: Task[] = []
      for (const task of guarded.tasks.values()) {
        if (results.cached(task.id) !== undefined || ledger.has(task.id)) this.forget(task.id)
        else if (!thief.holds(task.id)) open.push(task)
      }
      splitBySuccessor(owner, open, this.liveCustodians(guarded), self, { mine, leftTo })
    }
    return { mine, leftTo }
  }

  /** The owner's custodians as its last `hold` named them that are not declared dead, and this node. */
  private liveCustodians(guarded: Guarded): string[] {
    const { liveness, self } = this.opts
    const candidates = guarded.custodians.filter((p) => p === self || !liveness.isDead(p))
    if (!candidates.includes(self)) candidates.push(self)
    return candidates
  }

  /**
   * Adopts the orphans whose result the DHT does not have (and that are still orphans then), a
   * chunk of lookups at a time.
   */
  private async adopt(orphans: Task[]): Promise<void> {
    if (orphans.length === 0 || this.stopped) return
    const { liveness, self } = this.opts
    await this.lookups.each(orphans, true, async ({ open, why }) => {
      if (this.stopped) return
      const floor = Date.now()
      const adopted: Task[] = []
      for (const orphan of open) {
        // the owner may be back (or have reclaimed the task), or the task be done or adopted,
        // while the DHT was asked
        if (!liveness.isDead(orphan.owner) || this.ownerOf.get(orphan.id) !== orphan.owner) continue
        if (this.settledHere(orphan.id)) continue
        const task = { ...orphan, owner: self }
        if (this.opts.own(task, { as: 'adopted', floor })) adopted.push(task)
        this.forget(orphan.id)
      }
      if (adopted.length === 0) return
      this.opts.onAdopted(adopted, why)
      await this.opts.ledger.journalled().catch(() => undefined)
      await this.opts.hold(adopted)
    })
  }

  /** True when the task has a result known here, or is owned or held here already. */
  private settledHere(taskId: string): boolean {
    const { results, ledger, thief } = this.opts
    return results.cached(taskId) !== undefined || ledger.has(taskId) || thief.holds(taskId)
  }

  private remember(owner: string, task: Task, size: number): void {
    const guarded = this.byOwner.get(owner)
    if (guarded === undefined) return
    const prev = this.ownerOf.get(task.id)
    if (prev !== undefined && prev !== owner) {
      // handed over by an adopter, once its owner is dead here: another peer naming a live
      // owner's task id in a hold of its own does not take its custody away
      if (!this.opts.liveness.isDead(prev)) return
      this.forget(task.id)
    }
    shareParts(task, owner) // the sender is the owner (checked): one peer id string for all its tasks
    guarded.tasks.set(task.id, task)
    if (prev !== undefined) this.ownerOf.delete(task.id) // to the end of the order: the newest
    this.ownerOf.set(task.id, owner)
    this.resize(task.id, guarded, size)
    const memory = this.opts.memory ?? DEFAULT_CUSTODY_MEMORY
    const bytes = this.opts.memoryBytes ?? DEFAULT_CUSTODY_BYTES
    while (this.ownerOf.size > memory || this.bytes > bytes)
      if (!this.evictFromLargest(this.bytes > bytes)) break
  }

  /** Notes the bytes a guarded task takes (its owner's and in all), replacing what was noted. */
  private resize(taskId: string, guarded: Guarded, size: number): void {
    const before = this.sizes.get(taskId) ?? 0
    if (size > 0) this.sizes.set(taskId, size)
    else this.sizes.delete(taskId)
    guarded.bytes += size - before
    this.bytes += size - before
  }

  /**
   * Forgets the oldest task of the owner with the most tasks here (`byBytes`: the most bytes): one
   * owner's surplus (a member flooding `hold`s) never pushes another owner's tasks out.
   */
  private evictFromLargest(byBytes: boolean): boolean {
    const oldest = largestOwner(this.byOwner.values(), byBytes)?.tasks.keys().next().value
    if (oldest === undefined) return false
    this.forget(oldest)
    return true
  }

  private forget(taskId: string): void {
    this.lookups.forget(taskId)
    this.patience.forget(taskId)
    const owner = this.ownerOf.get(taskId)
    if (owner === undefined) return
    this.ownerOf.delete(taskId)
    const guarded = this.byOwner.get(owner)
    if (guarded !== undefined) this.resize(taskId, guarded, 0)
    guarded?.tasks.delete(taskId)
    if (guarded?.tasks.size === 0) this.byOwner.delete(owner)
  }
}

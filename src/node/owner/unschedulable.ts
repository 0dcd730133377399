import { canRun } from '../../policy/capacity.ts'
import { type Schedulability, schedulability } from '../../policy/schedulable.ts'
import type { NodeOffer, QueuedTask } from '../../policy/types.ts'
import { shapeOf } from '../../policy/work-tally.ts'
import { monotonicNow, wallTimeOf } from '../../util/clock.ts'
import type { PeerView } from '../peers/peer-view.ts'

/** How often the owner checks its queued tasks against the live peers' offers, ms. */
export const UNSCHEDULABLE_CHECK_MS = 1_000

/** A queued task no live node can run, and why (one reason per node considered). */
export interface UnschedulableTask {
  id: string
  /** e.g. `12D3…: label "gpu" missing`, one per node (this node first). */
  reasons: string[]
  /** Unix ms since when no live node could run it. */
  since: number
}

/** Options of {@link UnschedulableWatch}. */
export interface UnschedulableWatchOptions {
  /** This node's peer id and what it offers. */
  self: string
  offer: NodeOffer
  /** The node's queue; only its stealable (owned) tasks are judged. */
  queue: { values(): Iterable<QueuedTask> }
  /** The peers' capacity beacons. */
  peers: Pick<PeerView, 'list'>
  /** A task no one can run for this long is flagged, ms. */
  afterMs: number
  /** A peer whose last beacon is older than this is not live, ms. */
  staleAfterMs: number
  /** A task was flagged (`reasons`), or a flagged one became runnable while still queued. */
  onChange(taskId: string, unschedulable: boolean, reasons: string[]): void
}

/**
 * The owner's check for tasks stuck in its queue because no live node — neither this one nor a
 * peer with a fresh beacon — can run them (labels, slots, memory, or a handler type whose nodes
 * left). Such a task stays queued (a capable node's beacon makes it stealable at once), but after
 * `afterMs` it is reported `unschedulable` with the reasons, never silently stuck.
 */
export class UnschedulableWatch {
  private readonly firstSeen = new Map<string, number>()
  private readonly flagged = new Map<string, UnschedulableTask>()

  constructor(private readonly opts: UnschedulableWatchOptions) {}

  /** Judges every owned queued task now. */
  check(now = monotonicNow()): void {
    const { opts } = this
    const live = opts.peers.list().filter((p) => now - p.updatedAt <= opts.staleAfterMs)
    const toWall = wallTimeOf(0) // once: the tasks flagged in one check keep their order
    const judged = new Map<string, Schedulability>()
    const queued = new Set<string>()
    for (const q of opts.queue.values()) {
      if (!q.stealable) continue
      // most queued tasks this node runs itself: runnable, judged without a key or a verdict made
      if (canRun(opts.offer, q)) {
        this.runnable(q.id)
        continue
      }
      const key = shapeOf(q) // noted when the task was queued: tasks of one shape share a verdict
      let verdict = judged.get(key)
      if (verdict === undefined) {
        verdict = schedulability(q, { id: opts.self, offer: opts.offer }, live)
        judged.set(key, verdict)
      }
      if (verdict.runnable) {
        this.runnable(q.id)
        continue
      }
      queued.add(q.id)
      const since = this.firstSeen.get(q.id) ?? now
      this.firstSeen.set(q.id, since)
      if (now - since < opts.afterMs) continue
      const known = this.flagged.get(q.id)
      this.flagged.set(q.id, { id: q.id, reasons: verdict.reasons, since: since + toWall })
      if (known === undefined) opts.onChange(q.id, true, verdict.reasons)
    }
    // tasks that left the queue (granted, running, cancelled, done), or that some node runs now,
    // are judged again if they return or turn unrunnable
    for (const id of this.firstSeen.keys()) {
      if (queued.has(id)) continue
      this.firstSeen.delete(id)
      this.flagged.delete(id)
    }
  }

  /** A queued task some live node runs: not waited on, and no longer flagged if it was. */
  private runnable(id: string): void {
    if (this.firstSeen.size === 0) return // nothing waited on: nothing flagged either
    this.firstSeen.delete(id)
    if (this.flagged.delete(id)) this.opts.onChange(id, false, [])
  }

  /** The flagged task, if this one is. */
  get(taskId: string): UnschedulableTask | undefined {
    return this.flagged.get(taskId)
  }

  /** How many tasks are flagged. */
  get count(): number {
    return this.flagged.size
  }

  /**
   * The `max` flagged tasks flagged longest (oldest `since` first; all of them by default): one pass
   * that keeps the page sorted, not a sort of every flagged task.
   */
  list(max = Number.POSITIVE_INFINITY): UnschedulableTask[] {
    const page: UnschedulableTask[] = []
    if (!(max >= 1)) return page
    for (const task of this.flagged.values()) {
      if (page.length >= max && task.since >= page[page.length - 1].since) continue
      let lo = 0
      let hi = page.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (page[mid].since <= task.since) lo = mid + 1
        else hi = mid
      }
      page.splice(lo, 0, task)
      if (page.length > max) page.pop()
    }
    return page
  }
}

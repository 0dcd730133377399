import type { ResultNotice } from '../../protocol/messages/messages.ts'
import { resultKey } from '../../protocol/records/result-record.ts'
import { trimOldest } from '../../util/trim-oldest.ts'
import type { ResultStore } from './result-store.ts'

/** Options of {@link ResultFollower}. */
export interface ResultFollowerOptions {
  /** This node's peer id (its own notices are ignored). */
  self: string
  /** The records known here. */
  results: Pick<ResultStore, 'supersededBy' | 'accept' | 'refresh' | 'open' | 'cached'>
  /** Asks a peer for the record it holds (the submit protocol's `result`). */
  fetch(peer: string, taskId: string): Promise<Uint8Array | undefined>
  /** True while this node owns the task or runs it under a lease: it may publish a record of its own. */
  inProgress(taskId: string): boolean
}

/** Notices kept for tasks in progress here (the oldest are forgotten first). */
export const NOTICES_KEPT = 10_000
/** Tasks whose contested notices a node remembers having heard (the oldest are forgotten first). */
export const CONTESTED_HEARD = 10_000

/**
 * Keeps the records a node holds in line with the selector when a task ran twice (a crashed
 * owner's task adopted while its thief still ran it; a restarted owner; two adopters): a result
 * notice naming a record that would beat the one held here (a higher epoch, or the same epoch by
 * another executor) makes the node fetch that record from its executor, else read the DHT again.
 * The held record is replaced only when the selector prefers the new one, so every node's reads
 * converge on the record the DHT selects.
 */
export class ResultFollower {
  /**
   * The latest notice of another node's record for each task in progress here that had no record
   * here when the notice came: once this node publishes its own, it checks that one against it.
   */
  private readonly noticed = new Map<string, { peer: string; epoch: number }>()
  /** When a contested notice of each task was last heard here, oldest first (see {@link contestedSince}). */
  private readonly contestedHeard = new Map<string, number>()

  constructor(private readonly opts: ResultFollowerOptions) {}

  onResultNotice(from: string, msg: ResultNotice, contested = false): void {
    if (from === this.opts.self) return
    const heardAt = contested ? Date.now() : 0
    for (const { taskId, epoch } of msg.results) {
      if (contested) {
        this.contestedHeard.delete(taskId)
        this.contestedHeard.set(taskId, heardAt)
      }
      if (this.opts.results.supersededBy(taskId, epoch, from)) void this.follow(from, taskId)
      else if (this.opts.results.cached(taskId) === undefined && this.opts.inProgress(taskId)) {
        const kept = this.noticed.get(taskId)
        if (kept === undefined || epoch >= kept.epoch) this.keep(taskId, { peer: from, epoch })
      }
    }
    if (contested) trimOldest(this.contestedHeard, CONTESTED_HEARD)
  }

  /**
   * Tasks whose contested notice was heard here since `since` (ms) and whose record this node holds:
   * a peer cut off then (and now back) may hold a record of another run that beats the one held
   * here, sent while this node could not hear it — worth reading again from the mesh.
   */
  contestedSince(since: number): string[] {
    const ids: string[] = []
    for (const [taskId, at] of this.contestedHeard) {
      if (at >= since && this.opts.results.cached(taskId) !== undefined) ids.push(taskId)
    }
    return ids
  }

  /**
   * This node published its own record of the task. A record of another run whose notice came
   * while the task was still queued or running here (two owners after a restart and an adoption)
   * may beat it: if so, fetch that one, as if its notice came now.
   */
  published(taskId: string): void {
    const kept = this.noticed.get(taskId)
    if (kept === undefined) return
    this.noticed.delete(taskId)
    if (this.opts.results.supersededBy(taskId, kept.epoch, kept.peer)) void this.follow(kept.peer, taskId)
  }

  private keep(taskId: string, notice: { peer: string; epoch: number }): void {
    this.noticed.delete(taskId)
    this.noticed.set(taskId, notice)
    trimOldest(this.noticed, NOTICES_KEPT)
  }

  /**
   * Reads the task's record from `peer` (an executor that announced it, or an owner that holds the
   * accepted one), else from the DHT; it replaces the one held only if the selector prefers it.
   */
  async follow(peer: string, taskId: string): Promise<void> {
    try {
      const value = await this.opts.fetch(peer, taskId)
      if (value !== undefined) {
        this.opts.results.accept(this.opts.results.open(value, resultKey(taskId)), value)
        return
      }
    } catch {
      // the peer is gone or refused: the DHT has the record
    }
    this.opts.results.refresh(taskId)
  }
}

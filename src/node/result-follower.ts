import type { ResultNotice } from '../protocol/messages.ts'
import { resultKey } from '../protocol/result-record.ts'
import type { ResultStore } from './result-store.ts'

/** Options of {@link ResultFollower}. */
export interface ResultFollowerOptions {
  /** This node's peer id (its own notices are ignored). */
  self: string
  /** The records known here. */
  results: Pick<ResultStore, 'supersededBy' | 'accept' | 'refresh' | 'open'>
  /** Asks a peer for the record it holds (the submit protocol's `result`). */
  fetch(peer: string, taskId: string): Promise<Uint8Array | undefined>
}

/**
 * Keeps the records a node holds in line with the selector when a task ran twice (a crashed
 * owner's task adopted while its thief still ran it; a restarted owner; two adopters): a result
 * notice naming a record that would beat the one held here (a higher epoch, or the same epoch by
 * another executor) makes the node fetch that record from its executor, else read the DHT again.
 * The held record is replaced only when the selector prefers the new one, so every node's reads
 * converge on the record the DHT selects.
 */
export class ResultFollower {
  constructor(private readonly opts: ResultFollowerOptions) {}

  onResultNotice(from: string, msg: ResultNotice): void {
    if (from === this.opts.self) return
    for (const { taskId, epoch } of msg.results) {
      if (this.opts.results.supersededBy(taskId, epoch, from)) void this.follow(from, taskId)
    }
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

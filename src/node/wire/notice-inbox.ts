import type { ResultNotice } from '../../protocol/messages/messages.ts'
import { resultKey } from '../../protocol/records/result-record.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { GossipHandlers } from './gossip.ts'

/** Options of {@link NoticeInbox}. */
export interface NoticeInboxOptions {
  /**
   * The record value a peer stores for a task, read from that peer (unverified; `RecordFetch.valueAt`:
   * the reads of a turn go together).
   */
  readFrom(peer: string, taskId: string): Promise<Uint8Array | undefined>
  /** Where fetched records go, and who waits for which result. */
  results: ResultStore
  /** A peer says it stored the result of a task under `epoch`. */
  onResultStored(from: string, taskId: string, epoch: number): void
  /**
   * True when `from` holds this node's live lease on the task under `epoch`: its completion, which
   * carries the record, is on its way. @defaultValue never
   */
  expectsCompletion?(from: string, taskId: string, epoch: number): boolean
  /** How long a notice waits for the completion it announces, ms. @defaultValue COMPLETION_GRACE_MS */
  completionGraceMs?: number
}

/**
 * A lease holder's notice and its completion leave together, but the completion may land second;
 * the owner gives it this long (ms) before it treats the notice as the completion and fetches the
 * record itself.
 */
export const COMPLETION_GRACE_MS = 2_000

/**
 * What this node makes of result notices: it fetches the results someone here waits for as notices
 * announce them, and a record that beats the one held here; an owner takes its lease holder's
 * notice for the completion when that never comes.
 */
export class NoticeInbox implements GossipHandlers {
  constructor(private readonly opts: NoticeInboxOptions) {}

  /**
   * A peer stored results. Owners treat a notice from the lease holder as its completion (in
   * case the completion itself is lost); a node where someone waits for one of the tasks fetches
   * the record from the executor (or, failing that, from the DHT).
   */
  onResultNotice(from: string, msg: ResultNotice): void {
    const later: ResultNotice['results'] = []
    for (const result of msg.results) {
      // a relayed entry (another node's record, named) is the relay's word, not the executor's
      const relayed = result.executor !== undefined && result.executor !== from
      if (!relayed && this.opts.expectsCompletion?.(from, result.taskId, result.epoch)) later.push(result)
      else this.settle(from, result.taskId, result.epoch, relayed)
    }
    if (later.length === 0) return
    // the completion brings the record: only if it has not come by then is the notice taken for it
    const timer = setTimeout(() => {
      for (const r of later) this.settle(from, r.taskId, r.epoch)
    }, this.opts.completionGraceMs ?? COMPLETION_GRACE_MS)
    timer.unref()
  }

  /**
   * Takes a notice of one result: the owner may treat it as the completion (unless `relayed`: the
   * signer holds another node's record), and a node fetches, from the signer, what
   * someone here waits for, or a record of a higher epoch than the one held here (e.g. the owner's
   * `cancelled` record that supersedes a revoked thief's late result).
   */
  private settle(from: string, taskId: string, epoch: number, relayed = false): void {
    const { results } = this.opts
    if (!relayed) this.opts.onResultStored(from, taskId, epoch)
    const held = results.cached(taskId)
    if ((results.isAwaited(taskId) && held === undefined) || (held !== undefined && held.epoch < epoch)) {
      void this.fetchResult(from, taskId, held !== undefined)
    } else if (held === undefined && epoch > 1) void this.supersedeStored(from, taskId, epoch)
  }

  /**
   * A record of a later run (epoch above 1) was stored elsewhere: a copy of an earlier run kept in
   * this node's store (a replica, say) is replaced by it, so no node serves the losing record.
   */
  private async supersedeStored(from: string, taskId: string, epoch: number): Promise<void> {
    const stored = await this.opts.results.storedEpoch(taskId).catch(() => undefined)
    if (stored !== undefined && stored < epoch) await this.fetchResult(from, taskId, true)
  }

  /**
   * The owner called this node's completion of a task stale: another run won. Its record is asked
   * of the owner (or the DHT) so this node does not keep serving the losing one.
   */
  supersededAt(owner: string, taskId: string): void {
    void this.fetchResult(owner, taskId, true)
  }

  /** Fetches a record from the peer that has it, or the DHT; `keep` replaces the local copy too. */
  private async fetchResult(executor: string, taskId: string, keep: boolean): Promise<void> {
    const { results } = this.opts
    try {
      const value = await this.opts.readFrom(executor, taskId)
      if (value !== undefined) {
        // the peer asked answered on its own stream: a batch it signed itself stands on its word
        const record = results.open(value, resultKey(taskId), executor)
        if (keep) await results.keep(record, value)
        else results.accept(record, value)
        return
      }
    } catch {
      // the executor is gone or refused: the DHT has the record
    }
    await results.get(taskId, { skipCache: keep }).catch(() => undefined)
  }
}

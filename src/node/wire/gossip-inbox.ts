import type { Announcement, Beacon, ResultNotice } from '../../protocol/messages.ts'
import { resultKey } from '../../protocol/result-record.ts'
import type { Task } from '../../task/task.ts'
import { DEFAULT_ANNOUNCED_MEMORY } from '../options.ts'
import type { PeerView } from '../peers/peer-view.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { GossipHandlers } from './gossip.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'
import { requestResultFrom } from './submit-service.ts'

/** Options of {@link GossipInbox}. */
export interface GossipInboxOptions {
  /** This node's peer id (its own beacons are ignored). */
  self: string
  /** Dials executors for the records they stored. */
  libp2p: MeshLibp2p
  /** Takes the peers' capacity beacons. */
  peers: Pick<PeerView, 'update'>
  /** Where fetched records go, and who waits for which result. */
  results: ResultStore
  /** A peer's beacon was news (a new peer, or a newer beacon). */
  onPeerBeacon(from: string, beacon: Beacon): void
  /** A peer says it stored the result of a task under `epoch`. */
  onResultStored(from: string, taskId: string, epoch: number): void
  /**
   * True when `from` holds this node's live lease on the task under `epoch`: its completion, which
   * carries the record, is on its way. @defaultValue never
   */
  expectsCompletion?(from: string, taskId: string, epoch: number): boolean
  /** How long a notice waits for the completion it announces, ms. @defaultValue COMPLETION_GRACE_MS */
  completionGraceMs?: number
  /** True for owners whose announced tasks this node remembers (see `ownerFilter`). @defaultValue every owner */
  admits?(owner: string): boolean
}

/**
 * A lease holder's notice and its completion leave together, but the completion may land second;
 * the owner gives it this long (ms) before it treats the notice as the completion and fetches the
 * record itself.
 */
export const COMPLETION_GRACE_MS = 2_000

/**
 * What this node makes of validated gossip: remembers announced tasks, records the peers'
 * capacity beacons, and fetches the results someone here waits for as notices announce them.
 */
export class GossipInbox implements GossipHandlers {
  private readonly announced = new Map<string, Task>()

  constructor(private readonly opts: GossipInboxOptions) {}

  /** A task an announcement told this node of (and no notice has ended yet). */
  announcedTask(taskId: string): Task | undefined {
    return this.announced.get(taskId)
  }

  onAnnouncement(_from: string, msg: Announcement): void {
    for (const task of msg.tasks) {
      if (this.opts.results.cached(task.id) !== undefined || this.opts.admits?.(task.owner) === false)
        continue
      this.announced.set(task.id, task)
      if (this.announced.size > DEFAULT_ANNOUNCED_MEMORY) {
        const oldest = this.announced.keys().next().value
        if (oldest !== undefined) this.announced.delete(oldest)
      }
    }
  }

  onBeacon(from: string, msg: Beacon): void {
    if (from === this.opts.self) return
    if (!this.opts.peers.update(from, msg, Date.now())) return
    this.opts.onPeerBeacon(from, msg)
  }

  /**
   * A peer stored results. Owners treat a notice from the lease holder as its completion (in
   * case the completion itself is lost); a node where someone waits for one of the tasks fetches
   * the record from the executor (or, failing that, from the DHT).
   */
  onResultNotice(from: string, msg: ResultNotice): void {
    const later: ResultNotice['results'] = []
    for (const result of msg.results) {
      this.announced.delete(result.taskId)
      if (this.opts.expectsCompletion?.(from, result.taskId, result.epoch)) later.push(result)
      else this.settle(from, result.taskId, result.epoch)
    }
    if (later.length === 0) return
    // the completion brings the record: only if it has not come by then is the notice taken for it
    const timer = setTimeout(() => {
      for (const r of later) this.settle(from, r.taskId, r.epoch)
    }, this.opts.completionGraceMs ?? COMPLETION_GRACE_MS)
    timer.unref()
  }

  /**
   * Takes a notice of one result: the owner may treat it as the completion, and a node fetches what
   * someone here waits for, or a record of a higher epoch than the one held here (e.g. the owner's
   * `cancelled` record that supersedes a revoked thief's late result).
   */
  private settle(from: string, taskId: string, epoch: number): void {
    const { results } = this.opts
    this.opts.onResultStored(from, taskId, epoch)
    const held = results.cached(taskId)
    if ((results.isAwaited(taskId) && held === undefined) || (held !== undefined && held.epoch < epoch)) {
      void this.fetchResult(from, taskId)
    }
  }

  private async fetchResult(executor: string, taskId: string): Promise<void> {
    try {
      const value = await requestResultFrom(this.opts.libp2p, executor, taskId)
      if (value !== undefined) {
        this.opts.results.accept(this.opts.results.open(value, resultKey(taskId)), value)
        return
      }
    } catch {
      // the executor is gone or refused: the DHT has the record
    }
    await this.opts.results.get(taskId).catch(() => undefined)
  }
}

import type { ResultNotice } from '../../protocol/messages/messages.ts'
import { type ResultRecord, resultKey } from '../../protocol/records/result-record.ts'
import { monotonicNow } from '../../util/clock.ts'
import { trimOldest } from '../../util/trim-oldest.ts'
import type { ResultStore } from './result-store.ts'

/** Options of {@link ResultFollower}. */
export interface ResultFollowerOptions {
  /** This node's peer id (its own notices are ignored). */
  self: string
  /** The records known here. */
  results: Pick<ResultStore, 'supersededBy' | 'accept' | 'refresh' | 'open' | 'cached' | 'local'>
  /** Asks a peer for the record it holds (the submit protocol's `result`). */
  fetch(peer: string, taskId: string): Promise<Uint8Array | undefined>
  /** True while this node owns the task or runs it under a lease: it may publish a record of its own. */
  inProgress(taskId: string): boolean
  /**
   * Sends a notice of a record held here to every node (see {@link ResultFollower.relayHeard}),
   * naming its executor when that is another node.
   */
  relay?(notice: ResultNotice['results'][number]): void
  /** Draws the relays' delays. @defaultValue Math.random */
  random?: () => number
}

/** A notice of a record made elsewhere: who sent it (and serves the record), who made it, its epoch. */
interface Noticed {
  peer: string
  executor: string
  epoch: number
}

/** Notices kept for tasks in progress here (the oldest are forgotten first). */
export const NOTICES_KEPT = 10_000
/** Tasks whose contested notices a node remembers having heard (the oldest are forgotten first). */
export const CONTESTED_HEARD = 10_000
/**
 * A node relays a contested notice it heard after a delay drawn up to this, ms, unless another
 * node's notice of the same record (or a later one) comes first: about one node relays each.
 */
export const RELAY_SPREAD_MS = 1_000

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
  private readonly noticed = new Map<string, Noticed>()
  /** When a contested notice of each task was last heard here, oldest first (see {@link contestedSince}). */
  private readonly contestedHeard = new Map<string, number>()
  /** Relays waiting for their moment, by task, with the epoch they would send (see {@link relayHeard}). */
  private readonly relays = new Map<string, { epoch: number; timer: NodeJS.Timeout }>()
  private stopped = false

  constructor(private readonly opts: ResultFollowerOptions) {}

  onResultNotice(from: string, msg: ResultNotice, contested = false): void {
    if (from === this.opts.self) return
    const heardAt = contested ? monotonicNow() : 0
    for (const { taskId, epoch, executor } of msg.results) {
      // a relayed entry names the record's executor; the signer holds the record and serves it
      const by = executor ?? from
      if (contested) {
        this.contestedHeard.delete(taskId)
        this.contestedHeard.set(taskId, heardAt)
        const relay = this.relays.get(taskId)
        if (relay !== undefined && epoch >= relay.epoch) this.dropRelay(taskId) // another node sent it
      }
      if (this.opts.results.supersededBy(taskId, epoch, by)) void this.follow(from, taskId)
      else if (this.opts.results.cached(taskId) === undefined && this.opts.inProgress(taskId)) {
        const kept = this.noticed.get(taskId)
        if (kept === undefined || epoch >= kept.epoch) this.keep(taskId, { peer: from, executor: by, epoch })
      }
    }
    if (contested) trimOldest(this.contestedHeard, CONTESTED_HEARD)
  }

  /**
   * Tasks whose contested notice was heard here since `since` (ms) and whose record this node holds
   * (in memory, or a copy in its store): a peer cut off then (and now back) may hold a record of
   * another run that beats the one held here, sent while this node could not hear it — worth
   * reading again from the mesh.
   */
  async contestedSince(since: number): Promise<string[]> {
    const heard = [...this.contestedHeard].filter(([, at]) => at >= since).map(([taskId]) => taskId)
    const held = await Promise.all(heard.map((taskId) => this.held(taskId)))
    return heard.filter((_, i) => held[i] !== undefined)
  }

  /** The record held here of a task: in memory, else a copy in the local store (then kept in memory). */
  private async held(taskId: string): Promise<ResultRecord | undefined> {
    return this.opts.results.cached(taskId) ?? (await this.opts.results.local(taskId).catch(() => undefined))
  }

  /**
   * Sends again, to every node, a notice of the record held here of each task of `heard` (their
   * contested notices were heard here, see {@link contestedSince}), but `except` those: a peer cut
   * off then (and now back) may hold a record that loses to it and never hear of the winner
   * otherwise — its maker may have stopped or restarted since. Each waits a random delay up to {@link RELAY_SPREAD_MS}
   * and is dropped when a notice of the same record or a later one comes first: every node that
   * heard the contest relays, about one sends.
   */
  relayHeard(heard: readonly string[], except: ReadonlySet<string> = new Set()): void {
    const random = this.opts.random ?? Math.random
    for (const taskId of heard) {
      const held = this.opts.results.cached(taskId)
      if (held === undefined || except.has(taskId) || this.relays.has(taskId) || this.stopped) continue
      const timer = setTimeout(
        () => {
          this.relays.delete(taskId)
          const now = this.opts.results.cached(taskId)
          if (now === undefined) return
          const { status, epoch, executor } = now
          this.opts.relay?.(
            executor === this.opts.self ? { taskId, status, epoch } : { taskId, status, epoch, executor },
          )
        },
        Math.floor(random() * RELAY_SPREAD_MS),
      )
      timer.unref()
      this.relays.set(taskId, { epoch: held.epoch, timer })
    }
  }

  /** Drops every relay not sent yet (the node stops). */
  stopRelays(): void {
    this.stopped = true
    for (const taskId of [...this.relays.keys()]) this.dropRelay(taskId)
  }

  private dropRelay(taskId: string): void {
    clearTimeout(this.relays.get(taskId)?.timer)
    this.relays.delete(taskId)
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
    if (this.opts.results.supersededBy(taskId, kept.epoch, kept.executor)) void this.follow(kept.peer, taskId)
  }

  private keep(taskId: string, notice: Noticed): void {
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

import { setMaxListeners } from 'node:events'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import { type ResultRecord, resultKey } from '../../protocol/records/result-record.ts'
import { resultSelector } from '../../protocol/records/result-selector.ts'
import type { VerifiedRoots } from '../../protocol/records/verified-roots.ts'
import { withDeadline } from '../../protocol/rpc/signals.ts'
import { onAbort } from '../../util/abort-fanout.ts'
import type { BatchLookup } from './batch-lookup.ts'
import { PollBatches, type PollVerdict } from './poll-batches.ts'
import { PollPacer } from './poll-pacer.ts'
import type { RecordReplicator } from './record-replicator.ts'

/** How long one DHT store or get may take before it is abandoned. */
export const DHT_TIMEOUT_MS = 30_000
/** A lookup the network did not finish is made again after this many ms (times the try number). */
export const GET_RETRY_MS = 1_000
/** Tries of a lookup the network did not finish, the first included. */
export const GET_ATTEMPTS = 4
/** First pause between the DHT polls of a waiter (doubling up to {@link POLL_MAX_MS}), ms. */
export const POLL_FIRST_MS = 500
/** Longest pause between the DHT polls of a waiter, ms. */
export const POLL_MAX_MS = 5_000
/** Lookups waiting to be made again at most (an overloaded node does not pile more on). */
export const GET_RETRIES_PENDING = 256

/** How one get reads (see `ResultLookup.get`). */
export interface GetOptions {
  signal?: AbortSignal
  /** Past the record known here: read the local store and the network. */
  skipCache?: boolean
  /**
   * Through kad-dht's own lookup only, no batch lookup first: what any DHT client would read (the
   * simulation's end-of-run check of that promise; a batch already asked).
   */
  dhtOnly?: boolean
}

/** What {@link ResultLookup} needs of the node's result store. */
export interface ResultLookupParts {
  /** Reads records (`dht.get`, kad-dht's own lookup). */
  dht: SingleKadDHT
  /**
   * True while no peer is connected: a DHT get of a record not held here would only wait out its
   * deadline (a lone daemon's read of a task it did not know took 5 s). @defaultValue never
   */
  alone?(): boolean
  /** Reads the local copy. */
  replicator: Pick<RecordReplicator, 'readLocal'>
  /** The batch roots this node has checked. */
  roots: VerifiedRoots
  /** The record known here for a task, if any. */
  cached(taskId: string): ResultRecord | undefined
  /** Checks a signed value found under `key` and returns its record. @throws InvalidRecordError */
  open(value: Uint8Array, key: Uint8Array): ResultRecord
  /** Makes a record found known here (fenced); returns the record now held. */
  accept(record: ResultRecord, value: Uint8Array): ResultRecord
  /** Waiters' DHT polls started per second at most. @defaultValue POLLS_PER_SECOND */
  pollsPerSecond?: number
}

/**
 * The result store's DHT lookups: one get (the local copy and the replicas, the selector picks),
 * a get made again when the network did not finish it, and the polls of a waiter.
 */
export class ResultLookup {
  /** Tasks whose last lookup the network did not finish, with the tries made. */
  private readonly unfinishedGets = new Map<string, number>()
  /** The waiters' polls take turns (see {@link PollPacer}). */
  private readonly pacer: PollPacer
  /** The waiters' polls gathered into batch lookups, once the node has one (see {@link useBatch}). */
  private batches: PollBatches | undefined
  /** One-off gets asked in the same turn gathered into batch lookups (see {@link useBatch}). */
  private gets: PollBatches | undefined
  private closed = false

  constructor(private readonly parts: ResultLookupParts) {
    this.pacer = new PollPacer(parts.pollsPerSecond)
  }

  /**
   * Polls go to `batch` first from now on, gathered ({@link PollBatches}); only the tasks it does not
   * answer for get a DHT lookup, in their turn.
   */
  useBatch(batch: Pick<BatchLookup, 'lookUp'>): void {
    this.batches?.close()
    this.gets?.close()
    this.batches = new PollBatches((ids) => batch.lookUp(ids))
    this.gets = new PollBatches((ids) => batch.lookUp(ids), 0)
  }

  /**
   * One poll: the local cache, else a batch lookup of the task alone or with the gets asked in
   * the same turn ({@link useBatch}: its closest connected peers asked over the fetch protocol, one
   * round trip, where kad-dht's lookup cost a mesh of 5 ~45 ms of CPU per read), else — when the
   * batch cannot tell, or with `dhtOnly` — a DHT get (the selector picks among the replicas and the
   * local copy). A node without DHT peers reads its local store only (kad-dht's query would wait for the
   * signal); the local copy also stands when the network query fails.
   */
  async get(taskId: string, opts: GetOptions = {}): Promise<ResultRecord | undefined> {
    if (opts.skipCache !== true) {
      const hit = this.parts.cached(taskId)
      if (hit !== undefined) return hit
    }
    const verdict = opts.dhtOnly === true ? undefined : await this.batchGet(taskId, opts.signal)
    if (verdict !== undefined) {
      this.unfinishedGets.delete(taskId)
      return verdict === null ? undefined : this.parts.accept(verdict.record, verdict.value)
    }
    return this.dhtGet(taskId, opts.signal)
  }

  /** What a batch lookup finds of the task (`undefined`: no batch, or it cannot tell); rejects on `signal`. */
  private async batchGet(taskId: string, signal: AbortSignal | undefined): Promise<PollVerdict> {
    const gets = this.gets
    if (gets === undefined) return undefined
    if (signal === undefined) return gets.check(taskId)
    signal.throwIfAborted()
    let unlisten = () => {}
    const aborted = new Promise<never>((_, reject) => {
      unlisten = onAbort(signal, () => reject(signal.reason))
    })
    try {
      return await Promise.race([gets.check(taskId), aborted])
    } finally {
      unlisten()
    }
  }

  /** A DHT get of the task's record (kad-dht's own lookup) beside the local copy. */
  private async dhtGet(taskId: string, signal: AbortSignal | undefined): Promise<ResultRecord | undefined> {
    const key = resultKey(taskId)
    const values: Uint8Array[] = []
    const local = await this.parts.replicator.readLocal(key).catch(() => undefined)
    if (local !== undefined) values.push(local)
    let finished = this.parts.dht.routingTable.size > 0
    // with no peer at all, nothing but the local copy can answer
    if (finished || (local === undefined && this.parts.alone?.() !== true)) {
      const deadline = signal ?? AbortSignal.timeout(DHT_TIMEOUT_MS)
      // kad-dht listens to it once per path of the lookup (10 by default) and once more
      setMaxListeners(Number.POSITIVE_INFINITY, deadline)
      try {
        for await (const event of this.parts.dht.get(key, { signal: deadline })) {
          if (event.name === 'VALUE') values.push(event.value)
        }
      } catch (err) {
        if ((err as Error).name !== 'NotFoundError') finished = false
        if (values.length === 0 && (err as Error).name !== 'NotFoundError') throw err
      }
    }
    if (values.length === 0) return undefined
    const best = values[resultSelector(key, values, this.parts.roots)]
    const record = this.parts.open(best, key)
    const kept = this.parts.accept(record, best)
    if (finished) this.unfinishedGets.delete(taskId)
    else this.lookAgain(taskId)
    return kept
  }

  /**
   * Polls the DHT for the task's record until one is known here or `signal` aborts: at once, then
   * after 0.5, 1, 2, 4, 5, 5 … s. Each poll is part of the next batch lookup when the node has one
   * ({@link useBatch}); a poll the batch does not answer for is a DHT lookup, in its turn among the
   * node's waiters (`PollPacer`: many waiters poll each less often). One lookup is not enough for a waiter: it misses a record
   * not replicated yet, or when it is cut off, and the notice that would have brought it may have
   * gone by already.
   */
  async poll(taskId: string, signal: AbortSignal): Promise<void> {
    // callers wait for many tasks under one signal: each poll listens to it through `onAbort`
    for (
      let pause = POLL_FIRST_MS, first = true;
      !this.closed && !signal.aborted;
      pause = Math.min(2 * pause, POLL_MAX_MS), first = false
    ) {
      if (this.parts.cached(taskId) !== undefined) return
      const verdict = await this.batches?.check(taskId)
      if (verdict) {
        this.parts.accept(verdict.record, verdict.value)
        return
      }
      if (verdict === undefined) {
        if (!(await this.pacer.turn(first, signal))) return
        if (this.parts.cached(taskId) !== undefined) return
        await withDeadline(POLL_MAX_MS, [signal], (s) =>
          this.get(taskId, { signal: s, dhtOnly: true }),
        ).catch(() => undefined)
      }
      if (this.parts.cached(taskId) !== undefined || signal.aborted) return
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pause)
        const unlisten = onAbort(signal, done)
        function done() {
          clearTimeout(timer)
          unlisten()
          resolve()
        }
      })
    }
  }

  /** Stops looking: no get is made again, polls end. */
  close(): void {
    this.closed = true
    this.pacer.close()
    this.batches?.close()
    this.gets?.close()
  }

  /**
   * The lookup stood on the local copy alone (the network query was cut off, or no peer was
   * known): a record of a later run elsewhere may beat it, so look again a little later (a few
   * times, backing off) rather than keep the local copy as the answer for good.
   */
  private lookAgain(taskId: string): void {
    const tries = (this.unfinishedGets.get(taskId) ?? 0) + 1
    const full = tries === 1 && this.unfinishedGets.size >= GET_RETRIES_PENDING
    if (tries >= GET_ATTEMPTS || this.closed || full) {
      this.unfinishedGets.delete(taskId)
      return
    }
    this.unfinishedGets.set(taskId, tries)
    const timer = setTimeout(() => {
      if (!this.closed) void this.get(taskId, { skipCache: true }).catch(() => undefined)
    }, GET_RETRY_MS * tries)
    timer.unref()
  }
}

import { equals } from 'uint8arrays'
import {
  openResultRecordSync,
  type ResultRecord,
  readVerifiedResultRecord,
  resultKey,
} from '../../protocol/records/result-record.ts'
import { compareResultRecords, resultSelector } from '../../protocol/records/result-selector.ts'
import { VerifiedRoots } from '../../protocol/records/verified-roots.ts'
import { turnEnd } from '../../util/in-turns.ts'
import { ownBytes } from '../../util/own-bytes.ts'
import { trimOldest } from '../../util/trim-oldest.ts'
import type { BatchLookup } from './batch-lookup.ts'
import { ReplicaPuts } from './replica-puts.ts'
import { type GetOptions, ResultLookup } from './result-lookup.ts'
import {
  type Admission,
  DEFAULT_CACHE_SIZE,
  type PublishOptions,
  type ResultStoreOptions,
} from './result-store-options.ts'
import { ResultWaiters } from './result-waiters.ts'

export type { Admission, PublishOptions, ResultStoreOptions }
export { DEFAULT_CACHE_SIZE }

type Cached = { record: ResultRecord; value: Uint8Array }

/**
 * Signed result records: signs and stores them in kad-dht under `/taskmesh-result/<id>`,
 * keeps recent ones in memory, and wakes whoever waits for a task's result the moment one
 * is known here (published locally, or learnt from a notice or a completion).
 *
 * The local copy of a record is written (fenced: a record that loses the selector to the one
 * stored never replaces it) before `publish` resolves; copies at the closest peers follow in the
 * background. Records learnt from peers pass the {@link admit} rule first, so an owner never wakes
 * its waiters with a record it knows to be stale.
 */
export class ResultStore {
  private readonly cache = new Map<string, Cached>()
  private readonly waiters = new ResultWaiters()
  private readonly puts: ReplicaPuts
  private readonly cacheSize: number
  private readonly lookup: ResultLookup
  private admission: Admission = () => true
  private closed = false
  /** The batch roots this node has checked. */
  readonly roots: VerifiedRoots

  constructor(private readonly opts: ResultStoreOptions) {
    this.roots = opts.roots ?? new VerifiedRoots()
    this.puts = new ReplicaPuts(opts)
    this.cacheSize = opts.cacheSize ?? DEFAULT_CACHE_SIZE
    this.lookup = new ResultLookup({
      ...{ dht: opts.dht, alone: opts.alone },
      replicator: opts.replicator,
      roots: this.roots,
      cached: (taskId) => this.cached(taskId),
      open: (value, key) => this.open(value, key),
      accept: (record, value) => this.accept(record, value),
    })
  }

  /** Sets the rule records learnt from peers (completions, notices, DHT gets) must pass. */
  admit(rule: Admission): void {
    this.admission = rule
  }

  /**
   * Signs a record made here, makes it known locally at once, writes the local copy, and stores it
   * at the closest peers in the background. When the local store already holds a record that wins
   * (this one is a late result of an older epoch), that record becomes the one known here and
   * nothing is replicated. Never rejects after signing: a failed write is reported to `onError`.
   */
  async publish(record: ResultRecord, opts: PublishOptions = {}): Promise<Uint8Array> {
    const value = await this.opts.signer.sign(record)
    void this.opts.unsent?.mark(record.taskId)
    this.remember(record, value, false)
    const carriedTo = opts.signed?.(value)
    await this.persist(record.taskId, value, { except: carriedTo })
    return value
  }

  /**
   * Checks a signed value as this node's DHT validator does (a batch root checked here before is
   * not checked again, nor the signature of a batch `from` — the sender on an authenticated stream —
   * signed itself) and returns its record.
   * @throws InvalidRecordError saying why the value is refused.
   */
  open(value: Uint8Array, key?: Uint8Array, from?: string): ResultRecord {
    return openResultRecordSync(value, key, this.roots, from)
  }

  /**
   * Takes a record learnt from a peer (already verified by the caller). It replaces a cached one
   * only when the deterministic selector prefers it, and only when the admission rule lets it.
   * Returns the record now held (the one given when it was not admitted and nothing is held).
   */
  accept(record: ResultRecord, value: Uint8Array): ResultRecord {
    return this.remember(record, value, true)
  }

  /**
   * Like {@link accept}, and keeps a local copy too (an owner keeps the record of a completion it
   * accepted): resolves once the local copy is written (or a record that wins is stored already).
   */
  async keep(record: ResultRecord, value: Uint8Array): Promise<void> {
    this.remember(record, value, true)
    await this.persist(record.taskId, value, undefined)
  }

  /**
   * Resolves once the local write of the task's record that this node is about to publish has
   * ended (the record, or one that wins against it, is in the local store). For an owner that
   * settles a task and then publishes its record ({@link publish} wakes it): nothing is read from
   * the store — a read there found nothing but cost a key, a filter probe and a turn per task. Stays
   * pending while no write succeeds (a journal then keeps the task open: it runs again on replay).
   */
  whenPublished(taskId: string): Promise<void> {
    return this.waiters.waitStored(taskId)
  }

  /** Waiters' polls look up in batches from now on (see `ResultLookup.useBatch`). */
  useBatch(batch: Pick<BatchLookup, 'lookUp'>): void {
    this.lookup.useBatch(batch)
  }

  /** The value stored in the local DHT store under a key, unverified (what a peer's `fetch` is answered with). */
  storedValue(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.opts.replicator.readLocal(key)
  }

  /** The record stored in the local DHT store, verified (and then known here), if any. */
  async local(taskId: string): Promise<ResultRecord | undefined> {
    const key = resultKey(taskId)
    const value = await this.opts.replicator.readLocal(key)
    if (value === undefined) return undefined
    try {
      const record = this.open(value, key)
      return this.remember(record, value, true)
    } catch {
      return undefined
    }
  }

  /**
   * The epoch of the record in the local DHT store, if any: read, not verified again (every copy
   * stored was checked as it was written), so a notice of a later run costs no signature check.
   */
  async storedEpoch(taskId: string): Promise<number | undefined> {
    const value = await this.opts.replicator.readLocal(resultKey(taskId))
    return value === undefined ? undefined : readVerifiedResultRecord(value).epoch
  }

  /** Stores copies of a record held here at the closest peers again (in the background). */
  replicate(taskId: string, value: Uint8Array): void {
    if (!this.closed) this.puts.add(taskId, value)
  }

  /** Reads the task's record from the DHT again in the background (the one known here may be stale). */
  refresh(taskId: string): void {
    if (this.closed) return
    void this.get(taskId, { skipCache: true }).catch(() => undefined)
  }

  /** True when someone here waits for the task's result. */
  isAwaited(taskId: string): boolean {
    return this.waiters.has(taskId)
  }

  /**
   * True when a record is known here for the task and a record of `epoch` by `executor` could beat
   * it (a higher epoch, or the same epoch by another executor): worth fetching.
   */
  supersededBy(taskId: string, epoch: number, executor: string): boolean {
    const held = this.cache.get(taskId)?.record
    return held !== undefined && (epoch > held.epoch || (epoch === held.epoch && executor !== held.executor))
  }

  /** A record known here without a network round trip. */
  cached(taskId: string): ResultRecord | undefined {
    return this.cache.get(taskId)?.record
  }

  /** The signed value known here for a task, if any. */
  cachedValue(taskId: string): Uint8Array | undefined {
    return this.cache.get(taskId)?.value
  }

  /** One poll: the record known here, else a batch lookup or a DHT get (see `ResultLookup.get`). */
  get(taskId: string, opts: GetOptions = {}): Promise<ResultRecord | undefined> {
    return this.lookup.get(taskId, opts)
  }

  /** Polls the DHT for the task's record until one is known here or `signal` aborts (see `ResultLookup.poll`). */
  poll(taskId: string, signal: AbortSignal): Promise<void> {
    return this.lookup.poll(taskId, signal)
  }

  /**
   * Resolves with the task's record as soon as one is known here. Rejects with `signal`'s reason
   * when it aborts, or — without a signal — with a `TimeoutError` once `timeoutMs` passed (checked
   * once a second: waiting costs no timer of its own).
   */
  wait(taskId: string, signal?: AbortSignal, timeoutMs?: number): Promise<ResultRecord> {
    const hit = this.cache.get(taskId)
    if (hit !== undefined) return Promise.resolve(hit.record)
    return this.waiters.wait(taskId, signal, timeoutMs)
  }

  /**
   * Ends every wait for a record not known here, now and from now on, with `reason(taskId)` (the
   * node stopped: none will come); a record known here still answers {@link wait} at once.
   */
  endWaits(reason: (taskId: string) => unknown): void {
    this.waiters.close(reason)
  }

  /** Resolves when every DHT put started so far has ended. */
  async flush(): Promise<void> {
    await this.puts.flush()
  }

  /** DHT puts not yet finished. */
  get pendingPuts(): number {
    return this.puts.pending
  }

  /** Stops storing; queued puts are dropped. */
  close(): void {
    this.closed = true
    this.lookup.close()
    this.puts.close()
  }

  /**
   * Makes a record known here unless the cached one wins the selector against it; `fenced` records
   * (learnt from elsewhere) must pass the admission rule first. Wakes the task's waiters.
   */
  private remember(record: ResultRecord, value: Uint8Array, fenced: boolean): ResultRecord {
    const prev = this.cache.get(record.taskId)
    if (fenced && !this.admission(record)) return prev?.record ?? record
    let kept: Cached = { record, value: ownBytes(value) }
    if (prev !== undefined) {
      const order = compareResultRecords(prev.record, record)
      const prevWins =
        order === 0
          ? equals(prev.value, value) ||
            resultSelector(resultKey(record.taskId), [prev.value, value], this.roots) === 0
          : order < 0
      if (prevWins) kept = prev
      this.cache.delete(record.taskId)
    }
    this.cache.set(record.taskId, kept)
    trimOldest(this.cache, this.cacheSize)
    this.waiters.wake(kept.record)
    return kept.record
  }

  /**
   * Writes the local copy (fenced), then, when `replicate` and the copy was written, queues the
   * copies at the closest peers. When a winning record is stored already, it becomes the one known
   * here. Never rejects.
   */
  private async persist(taskId: string, value: Uint8Array, replicate?: { except?: string }): Promise<void> {
    const key = resultKey(taskId)
    await turnEnd() // what this turn does with the record (an answer, a completion) goes out first
    try {
      const local = await this.opts.replicator.storeLocal(key, value)
      this.waiters.wakeStored(taskId)
      if (!local.written) {
        this.opts.unsent?.copied(taskId) // a record that wins is here: nothing to send
        await this.adoptStored(taskId, local.current)
        return
      }
    } catch (err) {
      this.opts.unsent?.copied(taskId)
      if (!this.closed) this.opts.onError?.(err as Error, taskId)
      return
    }
    if (replicate !== undefined) this.puts.add(taskId, value, replicate.except)
  }

  /** The local store kept a record that wins against ours: it becomes the one known here. */
  private async adoptStored(taskId: string, current: Uint8Array): Promise<void> {
    try {
      this.remember(this.open(current, resultKey(taskId)), current, true)
    } catch {
      // a corrupt local entry: the DHT get will pick among replicas
    }
  }
}

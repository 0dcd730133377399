import { setMaxListeners } from 'node:events'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import PQueue from 'p-queue'
import { equals } from 'uint8arrays'
import {
  compareResultRecords,
  openResultRecordSync,
  type ResultRecord,
  resultKey,
  resultSelector,
} from '../../protocol/records/result-record.ts'
import { VerifiedRoots } from '../../protocol/records/verified-roots.ts'
import { withDeadline } from '../../protocol/rpc/signals.ts'
import type { RecordReplicator } from './record-replicator.ts'
import type { RecordSigner } from './record-signer.ts'

/** How long one DHT store or get may take before it is abandoned. */
export const DHT_TIMEOUT_MS = 30_000
/** Records being replicated at once per node (the replicator sends what is in flight together, in batches). */
export const DEFAULT_PUT_CONCURRENCY = 1024
/** Records kept in memory for fast reads (the DHT keeps them all). */
export const DEFAULT_CACHE_SIZE = 20_000
/** Attempts at storing one record while no peer acknowledges it (each peer is already tried twice per attempt). */
export const PUT_ATTEMPTS = 5
/** Pause before another attempt at storing a record no peer acknowledged, in ms (times the attempt number). */
export const PUT_RETRY_MS = 200
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

/** How often waiters' deadlines are checked, ms. */
const DEADLINE_SWEEP_MS = 1_000

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

interface Cached {
  record: ResultRecord
  value: Uint8Array
}

/**
 * Decides whether a record learnt from elsewhere may become the one known here (and wake
 * waiters): false for a record the owner knows to be stale (fencing).
 */
export type Admission = (record: ResultRecord) => boolean

/** How {@link ResultStore.publish} hands a record on besides storing it. */
export interface PublishOptions {
  /**
   * Called with the signed value at once, before the local copy is written (a thief's completion
   * leaves then). Returns the peer it handed the record to in that frame (the owner keeps it), to
   * which no copy is sent, if any.
   */
  signed?(value: Uint8Array): string | undefined
}

/** Options of {@link ResultStore}. */
export interface ResultStoreOptions {
  /** Reads records (`dht.get`, kad-dht's own lookup). */
  dht: SingleKadDHT
  /** Stores records: the local copy and the closest peers' copies. */
  replicator: Pick<RecordReplicator, 'storeLocal' | 'replicate' | 'readLocal'>
  /** Signs this node's records (in batches). */
  signer: Pick<RecordSigner, 'sign'>
  /** The batch roots this node has checked (shared with its DHT validator and selector). @defaultValue a fresh one */
  roots?: VerifiedRoots
  /** @defaultValue DEFAULT_PUT_CONCURRENCY */
  putConcurrency?: number
  /** @defaultValue DEFAULT_CACHE_SIZE */
  cacheSize?: number
  onError?: (err: Error, taskId: string) => void
}

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
  private readonly waiters = new Map<string, Set<(r: ResultRecord) => void>>()
  private readonly storedWaiters = new Map<string, Array<() => void>>()
  private readonly puts: PQueue
  private readonly cacheSize: number
  private admission: Admission = () => true
  private closed = false
  /** Waiters' deadlines (waits without a signal), swept once a second. */
  private readonly deadlines = new Set<{ at: number; expire: () => void }>()
  private sweep: NodeJS.Timeout | undefined
  /** Tasks whose last lookup the network did not finish, with the tries made. */
  private readonly unfinishedGets = new Map<string, number>()
  /** The batch roots this node has checked. */
  readonly roots: VerifiedRoots

  constructor(private readonly opts: ResultStoreOptions) {
    this.roots = opts.roots ?? new VerifiedRoots()
    this.puts = new PQueue({ concurrency: opts.putConcurrency ?? DEFAULT_PUT_CONCURRENCY })
    this.cacheSize = opts.cacheSize ?? DEFAULT_CACHE_SIZE
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
    this.remember(record, value, false)
    const carriedTo = opts.signed?.(value)
    await this.persist(record.taskId, value, { except: carriedTo })
    return value
  }

  /**
   * Checks a signed value as this node's DHT validator does (a batch root checked here before is
   * not checked again) and returns its record.
   * @throws InvalidRecordError saying why the value is refused.
   */
  open(value: Uint8Array, key?: Uint8Array): ResultRecord {
    return openResultRecordSync(value, key, this.roots)
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
   * Resolves once a result record of the task is in the local store (written by {@link publish} or
   * {@link keep}, or found there). Never rejects; stays pending while no record is stored.
   */
  whenStored(taskId: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const list = this.storedWaiters.get(taskId) ?? []
      list.push(resolve)
      this.storedWaiters.set(taskId, list)
      this.opts.replicator.readLocal(resultKey(taskId)).then(
        (value) => {
          if (value !== undefined) this.stored(taskId)
        },
        () => undefined,
      )
    })
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
    if (held === undefined) return false
    return epoch > held.epoch || (epoch === held.epoch && executor !== held.executor)
  }

  /** A record known here without a network round trip. */
  cached(taskId: string): ResultRecord | undefined {
    return this.cache.get(taskId)?.record
  }

  /** The signed value known here for a task, if any. */
  cachedValue(taskId: string): Uint8Array | undefined {
    return this.cache.get(taskId)?.value
  }

  /**
   * One poll: the local cache, else a DHT get (the selector picks among the replicas and the local
   * copy). A node without DHT peers reads its local store only (kad-dht's query would wait for the
   * signal); the local copy also stands when the network query fails.
   */
  async get(
    taskId: string,
    opts: { signal?: AbortSignal; skipCache?: boolean } = {},
  ): Promise<ResultRecord | undefined> {
    if (opts.skipCache !== true) {
      const hit = this.cache.get(taskId)
      if (hit !== undefined) return hit.record
    }
    const key = resultKey(taskId)
    const values: Uint8Array[] = []
    const local = await this.opts.replicator.readLocal(key).catch(() => undefined)
    if (local !== undefined) values.push(local)
    let finished = this.opts.dht.routingTable.size > 0
    if (finished || local === undefined) {
      try {
        for await (const event of this.opts.dht.get(key, {
          signal: opts.signal ?? AbortSignal.timeout(DHT_TIMEOUT_MS),
        })) {
          if (event.name === 'VALUE') values.push(event.value)
        }
      } catch (err) {
        if ((err as Error).name !== 'NotFoundError') finished = false
        if (values.length === 0 && (err as Error).name !== 'NotFoundError') throw err
      }
    }
    if (values.length === 0) return undefined
    const best = values[resultSelector(key, values, this.roots)]
    const record = this.open(best, key)
    const kept = this.remember(record, best, true)
    if (finished) this.unfinishedGets.delete(taskId)
    else this.lookAgain(taskId)
    return kept
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

  /**
   * Polls the DHT for the task's record until one is known here or `signal` aborts: at once, then
   * after 0.5, 1, 2, 4, 5, 5 … s. One lookup is not enough for a waiter: it misses a record not
   * replicated yet, or when it is cut off, and the notice that would have brought it may have
   * gone by already.
   */
  async poll(taskId: string, signal: AbortSignal): Promise<void> {
    // callers wait for many tasks under one signal: each poll listens to it (not a leak)
    setMaxListeners(Number.POSITIVE_INFINITY, signal)
    for (
      let pause = POLL_FIRST_MS;
      !this.closed && !signal.aborted;
      pause = Math.min(2 * pause, POLL_MAX_MS)
    ) {
      if (this.cache.has(taskId)) return
      await withDeadline(POLL_MAX_MS, [signal], (s) => this.get(taskId, { signal: s })).catch(() => undefined)
      if (this.cache.has(taskId)) return
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pause)
        function done() {
          clearTimeout(timer)
          signal.removeEventListener('abort', done)
          resolve()
        }
        signal.addEventListener('abort', done, { once: true })
      })
    }
  }

  /**
   * Resolves with the task's record as soon as one is known here. Rejects with `signal`'s reason
   * when it aborts, or — without a signal — with a `TimeoutError` once `timeoutMs` passed (checked
   * once a second: waiting costs no timer of its own).
   */
  wait(taskId: string, signal?: AbortSignal, timeoutMs?: number): Promise<ResultRecord> {
    const hit = this.cache.get(taskId)
    if (hit !== undefined) return Promise.resolve(hit.record)
    return new Promise((resolve, reject) => {
      const set = this.waiters.get(taskId) ?? new Set()
      const done = (r: ResultRecord) => {
        signal?.removeEventListener('abort', onAbort)
        if (deadline !== undefined) this.deadlines.delete(deadline)
        resolve(r)
      }
      const give = (reason: unknown) => {
        set.delete(done)
        if (set.size === 0) this.waiters.delete(taskId)
        reject(reason)
      }
      const onAbort = () => give(signal?.reason ?? new Error('aborted'))
      if (signal?.aborted === true) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
      const deadline =
        signal === undefined && timeoutMs !== undefined
          ? {
              at: Date.now() + timeoutMs,
              expire: () =>
                give(new DOMException(`no result for ${taskId} within ${timeoutMs} ms`, 'TimeoutError')),
            }
          : undefined
      if (deadline !== undefined) this.watchDeadline(deadline)
      set.add(done)
      this.waiters.set(taskId, set)
    })
  }

  /** Rejects a waiter past its deadline; one sweep a second serves every waiter. */
  private watchDeadline(deadline: { at: number; expire: () => void }): void {
    this.deadlines.add(deadline)
    if (this.sweep !== undefined) return
    this.sweep = setInterval(() => {
      const now = Date.now()
      for (const d of this.deadlines) {
        if (d.at > now) continue
        this.deadlines.delete(d)
        d.expire()
      }
      if (this.deadlines.size === 0) {
        clearInterval(this.sweep)
        this.sweep = undefined
      }
    }, DEADLINE_SWEEP_MS)
    this.sweep.unref()
  }

  /** Resolves when every DHT put started so far has ended. */
  async flush(): Promise<void> {
    await this.puts.onIdle()
  }

  /** DHT puts not yet finished. */
  get pendingPuts(): number {
    return this.puts.size + this.puts.pending
  }

  /** Stops storing; queued puts are dropped. */
  close(): void {
    this.closed = true
    this.puts.clear()
  }

  /**
   * Makes a record known here unless the cached one wins the selector against it; `fenced` records
   * (learnt from elsewhere) must pass the admission rule first. Wakes the task's waiters.
   */
  private remember(record: ResultRecord, value: Uint8Array, fenced: boolean): ResultRecord {
    const prev = this.cache.get(record.taskId)
    if (fenced && !this.admission(record)) return prev?.record ?? record
    let kept: Cached = { record, value }
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
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value
      if (oldest !== undefined) this.cache.delete(oldest)
    }
    const waiting = this.waiters.get(record.taskId)
    if (waiting !== undefined) {
      this.waiters.delete(record.taskId)
      for (const w of waiting) w(kept.record)
    }
    return kept.record
  }

  /** Wakes whoever waits for a local copy of the task's record. */
  private stored(taskId: string): void {
    const list = this.storedWaiters.get(taskId)
    if (list === undefined) return
    this.storedWaiters.delete(taskId)
    for (const resolve of list) resolve()
  }

  /**
   * Writes the local copy (fenced), then, when `replicate` and the copy was written, queues the
   * copies at the closest peers. When a winning record is stored already, it becomes the one known
   * here. Never rejects.
   */
  private async persist(taskId: string, value: Uint8Array, replicate?: { except?: string }): Promise<void> {
    const key = resultKey(taskId)
    try {
      const local = await this.opts.replicator.storeLocal(key, value)
      this.stored(taskId)
      if (!local.written) {
        await this.adoptStored(taskId, local.current)
        return
      }
    } catch (err) {
      if (!this.closed) this.opts.onError?.(err as Error, taskId)
      return
    }
    if (replicate !== undefined) this.store(taskId, value, replicate.except)
  }

  /** The local store kept a record that wins against ours: it becomes the one known here. */
  private async adoptStored(taskId: string, current: Uint8Array): Promise<void> {
    try {
      this.remember(this.open(current, resultKey(taskId)), current, true)
    } catch {
      // a corrupt local entry: the DHT get will pick among replicas
    }
  }

  private store(taskId: string, value: Uint8Array, except?: string): void {
    const key = resultKey(taskId)
    void this.puts.add(async () => {
      for (let attempt = 1; attempt <= PUT_ATTEMPTS && !this.closed; attempt++) {
        try {
          // each frame the replicator sends has a deadline of its own
          const acks = await this.opts.replicator.replicate(key, value, undefined, except)
          // alone, the local copy is all there is to store
          if (acks > 0 || this.opts.dht.routingTable.size === 0) return
        } catch (err) {
          if (attempt === PUT_ATTEMPTS || this.closed) this.opts.onError?.(err as Error, taskId)
        }
        if (attempt < PUT_ATTEMPTS && !this.closed) await delay(PUT_RETRY_MS * attempt)
      }
    })
  }
}

import type { PrivateKey } from '@libp2p/interface'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import PQueue from 'p-queue'
import { equals } from 'uint8arrays'
import {
  compareResultRecords,
  openResultRecord,
  type ResultRecord,
  resultKey,
  resultSelector,
  signResultRecord,
} from '../protocol/result-record.ts'
import type { DhtReplicator } from './dht-replicator.ts'

/** How long one DHT store or get may take before it is abandoned. */
export const DHT_TIMEOUT_MS = 30_000
/** DHT stores in flight at once per node. */
export const DEFAULT_PUT_CONCURRENCY = 4
/** Records kept in memory for fast reads (the DHT keeps them all). */
export const DEFAULT_CACHE_SIZE = 20_000
/** Attempts at storing one record while no peer acknowledges it (each peer is already tried twice per attempt). */
export const PUT_ATTEMPTS = 5
/** Pause before another attempt at storing a record no peer acknowledged, in ms (times the attempt number). */
export const PUT_RETRY_MS = 200

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

interface Cached {
  record: ResultRecord
  value: Uint8Array
}

/** Options of {@link ResultStore}. */
export interface ResultStoreOptions {
  /** Reads records (`dht.get`, kad-dht's own lookup). */
  dht: SingleKadDHT
  /** Stores records: the local copy and the closest peers' copies. */
  replicator: DhtReplicator
  privateKey: PrivateKey
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
 */
export class ResultStore {
  private readonly cache = new Map<string, Cached>()
  private readonly waiters = new Map<string, Set<(r: ResultRecord) => void>>()
  private readonly puts: PQueue
  private readonly cacheSize: number
  private closed = false

  constructor(private readonly opts: ResultStoreOptions) {
    this.puts = new PQueue({ concurrency: opts.putConcurrency ?? DEFAULT_PUT_CONCURRENCY })
    this.cacheSize = opts.cacheSize ?? DEFAULT_CACHE_SIZE
  }

  /** Signs a record made here, makes it known locally at once, and stores it in the DHT in the background. */
  async publish(record: ResultRecord): Promise<Uint8Array> {
    const value = await signResultRecord(record, this.opts.privateKey)
    this.remember(record, value)
    this.store(record.taskId, value)
    return value
  }

  /**
   * Takes a record learnt from a peer (already verified by the caller). It replaces a cached one
   * only when the deterministic selector prefers it. Returns the record now held.
   */
  accept(record: ResultRecord, value: Uint8Array): ResultRecord {
    return this.remember(record, value)
  }

  /** True when someone here waits for the task's result. */
  isAwaited(taskId: string): boolean {
    return this.waiters.has(taskId)
  }

  /** A record known here without a network round trip. */
  cached(taskId: string): ResultRecord | undefined {
    return this.cache.get(taskId)?.record
  }

  /** The signed value known here for a task, if any. */
  cachedValue(taskId: string): Uint8Array | undefined {
    return this.cache.get(taskId)?.value
  }

  /** One poll: the local cache, else a DHT get (the selector picks among replicas). */
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
    try {
      for await (const event of this.opts.dht.get(key, {
        signal: opts.signal ?? AbortSignal.timeout(DHT_TIMEOUT_MS),
      })) {
        if (event.name === 'VALUE') values.push(event.value)
      }
    } catch (err) {
      if (values.length === 0 && (err as Error).name !== 'NotFoundError') throw err
    }
    if (values.length === 0) return undefined
    const best = values[resultSelector(key, values)]
    const record = await openResultRecord(best, key)
    return this.remember(record, best)
  }

  /** Resolves with the task's record as soon as one is known here. */
  wait(taskId: string, signal?: AbortSignal): Promise<ResultRecord> {
    const hit = this.cache.get(taskId)
    if (hit !== undefined) return Promise.resolve(hit.record)
    return new Promise((resolve, reject) => {
      const set = this.waiters.get(taskId) ?? new Set()
      const done = (r: ResultRecord) => {
        signal?.removeEventListener('abort', onAbort)
        resolve(r)
      }
      const onAbort = () => {
        set.delete(done)
        if (set.size === 0) this.waiters.delete(taskId)
        reject(signal?.reason ?? new Error('aborted'))
      }
      if (signal?.aborted === true) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
      set.add(done)
      this.waiters.set(taskId, set)
    })
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

  private remember(record: ResultRecord, value: Uint8Array): ResultRecord {
    const prev = this.cache.get(record.taskId)
    let kept: Cached = { record, value }
    if (prev !== undefined) {
      const order = compareResultRecords(prev.record, record)
      const prevWins =
        order === 0
          ? equals(prev.value, value) || resultSelector(resultKey(record.taskId), [prev.value, value]) === 0
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

  private store(taskId: string, value: Uint8Array): void {
    const key = resultKey(taskId)
    void this.puts.add(async () => {
      for (let attempt = 1; attempt <= PUT_ATTEMPTS && !this.closed; attempt++) {
        try {
          const acks = await this.opts.replicator.store(key, value, AbortSignal.timeout(DHT_TIMEOUT_MS))
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

import type { SingleKadDHT } from '@libp2p/kad-dht'
import { resultKey } from '../../protocol/records/result-record.ts'
import type { RecordReplicator } from './record-replicator.ts'

/** Records being replicated at once per node (the replicator sends what is in flight together, in batches). */
export const DEFAULT_PUT_CONCURRENCY = 1024
/** Attempts at storing one record while no peer acknowledges it (each peer is already tried twice per attempt). */
export const PUT_ATTEMPTS = 5
/** Pause before another attempt at storing a record no peer acknowledged, in ms (times the attempt number). */
export const PUT_RETRY_MS = 200

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

/** Options of {@link ReplicaPuts}. */
export interface ReplicaPutsOptions {
  /** Its routing table tells whether this node knows any peer to store at. */
  dht: Pick<SingleKadDHT, 'routingTable'>
  /** Sends the copies to the closest peers. */
  replicator: Pick<RecordReplicator, 'replicate' | 'replicateLater' | 'replicas'>
  /** @defaultValue DEFAULT_PUT_CONCURRENCY */
  putConcurrency?: number
  /** A record could not be stored at any peer after every attempt. */
  onError?: (err: Error, taskId: string) => void
}

/**
 * The copies of this node's records at the closest peers, stored in the background: at most
 * `putConcurrency` at once (the rest wait in order), each tried again while no peer acknowledges
 * it; one no peer took is handed to the replicator's pending copies (sent when peers come). A
 * count and a list, not a general task queue: a put is one promise of the replicator's, and a
 * queue's events, promises and closures per put were 1.5 KB and ~1 % of an executor's CPU a task.
 */
export class ReplicaPuts {
  private readonly limit: number
  private running = 0
  /** Puts waiting for a free place, oldest first from `head`. */
  private waiting: Array<() => Promise<void>> = []
  private head = 0
  /** Called when nothing runs or waits. */
  private idle: Array<() => void> = []
  private closed = false

  constructor(private readonly opts: ReplicaPutsOptions) {
    this.limit = opts.putConcurrency ?? DEFAULT_PUT_CONCURRENCY
  }

  /**
   * Queues the copies of the task's signed record `value` at the closest peers.
   * @param except - a peer that has the record already (see `RecordReplicator.replicate`).
   */
  add(taskId: string, value: Uint8Array, except?: string): void {
    if (this.opts.replicator.replicas === 0) return // records are kept where they were made only
    const key = resultKey(taskId)
    const put = async (): Promise<void> => {
      for (let attempt = 1; attempt <= PUT_ATTEMPTS && !this.closed; attempt++) {
        try {
          // each frame the replicator sends has a deadline of its own
          const acks = await this.opts.replicator.replicate(key, value, undefined, except)
          if (acks > 0) return
          // alone (no peer yet: just started, say), the copies go out when peers come
          if (this.opts.dht.routingTable.size === 0) break
        } catch (err) {
          if (attempt === PUT_ATTEMPTS || this.closed) this.opts.onError?.(err as Error, taskId)
        }
        if (attempt < PUT_ATTEMPTS && !this.closed) await delay(PUT_RETRY_MS * attempt)
      }
      if (!this.closed) this.opts.replicator.replicateLater(key, value)
    }
    if (this.running < this.limit) this.start(put)
    else this.waiting.push(put)
  }

  private start(put: () => Promise<void>): void {
    this.running++
    void put()
      .catch(() => undefined) // a put reports its own errors (onError)
      .then(() => this.ended())
  }

  private ended(): void {
    this.running--
    if (this.head < this.waiting.length) {
      const next = this.waiting[this.head]
      this.waiting[this.head++] = noop
      // the list is cut once half of it is done: each put moves at most twice
      if (this.head * 2 >= this.waiting.length) {
        this.waiting = this.waiting.slice(this.head)
        this.head = 0
      }
      this.start(next)
    } else if (this.running === 0) {
      const idle = this.idle
      this.idle = []
      for (const wake of idle) wake()
    }
  }

  /** Resolves when every put started so far has ended. */
  flush(): Promise<void> {
    if (this.pending === 0) return Promise.resolve()
    return new Promise((resolve) => this.idle.push(resolve))
  }

  /** Puts not yet finished. */
  get pending(): number {
    return this.running + this.waiting.length - this.head
  }

  /** Stops storing; queued puts are dropped. */
  close(): void {
    this.closed = true
    this.waiting = []
    this.head = 0
  }
}

const noop = async (): Promise<void> => undefined

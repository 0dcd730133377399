import { eachLimited } from '../../util/each-limited.ts'
import { trimOldest } from '../../util/trim-oldest.ts'

/** Records without a copy elsewhere that a node remembers at most (the oldest are dropped first). */
export const MAX_PENDING_COPIES = 10_000

/** Records copied out at once while a backlog is sent. */
const FLUSH_CONCURRENCY = 32

interface Pending {
  key: Uint8Array
  value: Uint8Array
}

/**
 * Records this node stored while no peer took a copy — typically a task run just after a restart,
 * before any connection was up. Kept in memory and copied out when a peer that serves the replicate
 * protocol comes (see `RecordReplicator`), so a record does not live on one node only: if that node
 * died later, a custodian looking for the result would find nothing and run the task again.
 */
export class PendingCopies {
  private readonly pending = new Map<string, Pending>()
  private flushing: Promise<void> | undefined
  private again = false

  /**
   * @param send - copies one record to the closest peers; resolves with how many acknowledged it.
   * @param max - records remembered at most. @defaultValue MAX_PENDING_COPIES
   */
  constructor(
    private readonly send: (key: Uint8Array, value: Uint8Array) => Promise<number>,
    private readonly max = MAX_PENDING_COPIES,
  ) {}

  /** Records waiting for a peer to take a copy. */
  get size(): number {
    return this.pending.size
  }

  /** Remembers a record no peer took (a newer value of the same key replaces the older). */
  add(key: Uint8Array, value: Uint8Array): void {
    const id = Buffer.from(key).toString('base64')
    this.pending.delete(id)
    this.pending.set(id, { key, value })
    trimOldest(this.pending, this.max)
  }

  /**
   * Tries every pending record again (a peer that serves the protocol came); those a peer
   * acknowledged are forgotten. A call while a flush runs makes it go round once more.
   */
  flush(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve()
    if (this.flushing !== undefined) {
      this.again = true
      return this.flushing
    }
    this.flushing = this.run().finally(() => {
      this.flushing = undefined
    })
    return this.flushing
  }

  private async run(): Promise<void> {
    do {
      this.again = false
      await eachLimited([...this.pending], FLUSH_CONCURRENCY, async ([id, item]) => {
        const acks = await this.send(item.key, item.value).catch(() => 0)
        // a newer value of the key may have come meanwhile: only the one sent is done
        if (acks > 0 && this.pending.get(id) === item) this.pending.delete(id)
      })
    } while (this.again && this.pending.size > 0)
  }
}

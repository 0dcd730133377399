import { InboundBudgetError } from '../errors.ts'

/** One inbound stream's charge against an {@link InboundBudget}. */
export interface BudgetCharge {
  /** Charges `bytes` more received on the stream; may evict this stream or others. */
  add(bytes: number): void
  /** `bytes` of what was received formed complete frames (a session stream): no longer held. */
  settle(bytes: number): void
  /** Gives the stream's bytes back (it completed, failed or closed). Idempotent. */
  release(): void
}

interface Holder {
  bytes: number
  evict(err: Error): void
}

/**
 * A node-wide bound on the bytes of inbound requests held in memory: the request frames of the
 * steal and submit protocols that are still being received. Each frame may be up to
 * `MAX_FRAME_BYTES`, and a peer may hold many streams open, so without a shared bound a few peers
 * that announce large frames and send them slowly (or never finish them) could hold gigabytes.
 *
 * When the bytes held would exceed `maxBytes`, the streams holding the most are aborted (largest
 * first) until the rest fit. Honest requests are small and complete at once, so they are not the
 * ones evicted; a peer pushing large frames is.
 */
export class InboundBudget {
  private readonly holders = new Set<Holder>()
  private used = 0
  /** Streams aborted to keep within the budget, since the start. */
  evictions = 0

  /** @param maxBytes - most bytes of unfinished inbound requests held at once. */
  constructor(readonly maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`)
    }
  }

  /** Bytes of unfinished inbound requests held now. */
  get usedBytes(): number {
    return this.used
  }

  /** Streams charging the budget now. */
  get streams(): number {
    return this.holders.size
  }

  /**
   * Starts charging one inbound stream. `evict` is called (once) when the budget must drop the
   * stream: it should abort it. Its bytes are released at that moment.
   */
  open(evict: (err: Error) => void): BudgetCharge {
    const holder: Holder = { bytes: 0, evict }
    this.holders.add(holder)
    const release = () => {
      if (!this.holders.delete(holder)) return
      this.used -= holder.bytes
      holder.bytes = 0
    }
    return {
      add: (bytes) => {
        if (!this.holders.has(holder)) return
        holder.bytes += bytes
        this.used += bytes
        if (this.used > this.maxBytes) this.shed()
      },
      settle: (bytes) => {
        if (!this.holders.has(holder)) return
        const settled = Math.min(bytes, holder.bytes)
        holder.bytes -= settled
        this.used -= settled
      },
      release,
    }
  }

  /** Evicts the largest holders until the bytes held fit the budget again. */
  private shed(): void {
    while (this.used > this.maxBytes) {
      let largest: Holder | undefined
      for (const h of this.holders) if (largest === undefined || h.bytes > largest.bytes) largest = h
      if (largest === undefined) return
      const held = largest.bytes
      this.holders.delete(largest)
      this.used -= held
      this.evictions++
      largest.evict(
        new InboundBudgetError(
          `inbound requests over the node's budget of ${this.maxBytes} bytes: aborted the stream holding the most (${held} bytes)`,
        ),
      )
    }
  }
}

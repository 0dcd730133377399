import type { Logger } from '../../log/logger.ts'
import type { LimitName, NodeMetrics } from './node-metrics.ts'

/**
 * Tells the operator when the node's limits bite: submissions refused because the queue is full,
 * inbound streams closed to keep within the byte budget. Refusals are counted as they happen
 * ({@link refused}, and the metric at once) and logged once a {@link check} (a warning per limit that
 * bit since the last check, with the count): a flood of refusals is one line a second, not one each.
 */
export class LimitWatch {
  private readonly pending = new Map<LimitName, number>()
  private evictionsSeen = 0

  constructor(
    private readonly log: Logger,
    private readonly metrics: Pick<NodeMetrics, 'limitHit'>,
    private readonly evictions: () => number,
  ) {}

  /** `count` requests or streams were refused by `limit`. */
  refused(limit: LimitName, count = 1): void {
    this.metrics.limitHit(limit, count)
    this.pending.set(limit, (this.pending.get(limit) ?? 0) + count)
  }

  /** Logs the limits that bit since the last check (call about once a second). */
  check(): void {
    const evicted = this.evictions() - this.evictionsSeen
    if (evicted > 0) {
      this.evictionsSeen += evicted
      this.refused('inbound_bytes', evicted)
    }
    for (const [limit, count] of this.pending) {
      const msg =
        limit === 'queue_full'
          ? 'queue full: submissions refused (ERR_QUEUE_FULL)'
          : 'inbound byte budget full: streams holding the most were closed'
      this.log.warn({ limit, count }, msg)
    }
    this.pending.clear()
  }
}

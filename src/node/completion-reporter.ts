import type { CompleteRequest } from '../protocol/messages.ts'
import type { ResultRecord } from '../protocol/result-record.ts'
import { Batcher } from './batcher.ts'
import type { NodeCounters } from './node-counters.ts'
import type { StealService } from './steal-service.ts'

/** Records up to this size travel with the completion to the owner (larger ones: DHT only). */
export const COMPLETION_RECORD_BYTES = 64 * 1024

/**
 * Under load, completions to one owner go out at most once per this window (batched); a
 * completion after a quiet spell goes out at once.
 */
export const COMPLETION_WINDOW_MS = 20

/** Options of {@link CompletionReporter}. */
export interface CompletionReporterOptions {
  /** Sends the complete requests. */
  steal: Pick<StealService, 'request'>
  /** The node's counters (`staleCompletions`). */
  counters: NodeCounters
  /** True once the node has stopped: failed reports are not tried again. */
  isStopped(): boolean
}

/**
 * Tells owners that the tasks this node held under their leases are done. Completions to one
 * owner travel together, with their records; a failed report is tried up to three times.
 */
export class CompletionReporter {
  private readonly pending = new Map<string, Batcher<CompleteRequest['completions'][number]>>()

  constructor(private readonly opts: CompletionReporterOptions) {}

  /** Queues a completion for its owner; completions to one owner travel together, with their records. */
  report(owner: string, record: ResultRecord, value: Uint8Array): void {
    let batch = this.pending.get(owner)
    if (batch === undefined) {
      batch = new Batcher(COMPLETION_WINDOW_MS, (completions) => void this.flush(owner, completions))
      this.pending.set(owner, batch)
    }
    batch.add({
      taskId: record.taskId,
      epoch: record.epoch,
      status: record.status,
      ...(value.byteLength <= COMPLETION_RECORD_BYTES
        ? { record: Buffer.from(value).toString('base64') }
        : {}),
    })
  }

  /** Sends every pending batch now (the node stops). */
  flushNow(): void {
    for (const batch of this.pending.values()) batch.flushNow()
  }

  private async flush(owner: string, completions: CompleteRequest['completions']): Promise<void> {
    for (let attempt = 1; attempt <= 3 && !this.opts.isStopped(); attempt++) {
      try {
        const req: CompleteRequest = { type: 'complete', requestId: crypto.randomUUID(), completions }
        const reply = await this.opts.steal.request(owner, req)
        this.opts.counters.staleCompletions += reply.outcomes.filter((o) => o.outcome === 'stale').length
        return
      } catch {
        // the notice and the DHT record still carry the results; try the owner again
      }
    }
  }
}

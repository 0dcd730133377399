import { type BackoffPolicy, backoffDelayMs } from '../policy/backoff.ts'
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

/** Tries at reporting one batch of completions to its owner. */
export const COMPLETION_ATTEMPTS = 4
/** Pauses between tries: exponential with full jitter (≈ 0–100, 0–200, 0–400 ms). */
export const COMPLETION_BACKOFF: BackoffPolicy = { baseMs: 100, capMs: 2_000 }

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

/** Options of {@link CompletionReporter}. */
export interface CompletionReporterOptions {
  /** Sends the complete requests. */
  steal: Pick<StealService, 'request'>
  /** The node's counters (`staleCompletions`). */
  counters: NodeCounters
  /** True once the node has stopped: failed reports are not tried again. */
  isStopped(): boolean
  /**
   * The owner called a completion stale (its lease was revoked and the task went elsewhere): the
   * record this node published may not be the accepted one. @defaultValue nothing
   */
  onStale?(taskId: string, owner: string): void
  /** Uniform in [0, 1), for the backoff jitter. @defaultValue Math.random */
  random?: () => number
}

/**
 * Tells owners that the tasks this node held under their leases are done. Completions to one
 * owner travel together, with their records; a failed report is tried again after a backoff with
 * full jitter, up to {@link COMPLETION_ATTEMPTS} tries (the notice and the DHT record carry the
 * result anyway).
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
    for (let attempt = 1; attempt <= COMPLETION_ATTEMPTS && !this.opts.isStopped(); attempt++) {
      if (attempt > 1) {
        await delay(backoffDelayMs(attempt - 1, this.opts.random ?? Math.random, COMPLETION_BACKOFF))
        if (this.opts.isStopped()) return
      }
      try {
        const req: CompleteRequest = { type: 'complete', requestId: crypto.randomUUID(), completions }
        const reply = await this.opts.steal.request(owner, req)
        for (const { taskId, outcome } of reply.outcomes) {
          if (outcome !== 'stale') continue
          this.opts.counters.staleCompletions++
          this.opts.onStale?.(taskId, owner)
        }
        return
      } catch {
        // the notice and the DHT record still carry the results; try the owner again
      }
    }
  }
}

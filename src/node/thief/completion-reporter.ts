import { type BackoffPolicy, backoffDelayMs } from '../../policy/backoff.ts'
import { FRAME_BUDGET_BYTES, MAX_LEASES_PER_MESSAGE } from '../../protocol/constants.ts'
import type { CompleteRequest } from '../../protocol/messages/messages.ts'
import type { ResultRecord } from '../../protocol/records/result-record.ts'
import { toBase64 } from '../../util/base64.ts'
import { frameChunks } from '../../util/frame-chunks.ts'
import type { NodeCounters } from '../node-counters.ts'
import type { TaskEvents } from '../story/task-events.ts'
import type { StealService } from '../wire/steal-service.ts'

/** Tries at reporting one batch of completions to its owner. */
export const COMPLETION_ATTEMPTS = 4
/** Pauses between tries: exponential with full jitter (≈ 0–100, 0–200, 0–400 ms). */
export const COMPLETION_BACKOFF: BackoffPolicy = { baseMs: 100, capMs: 2_000 }

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

type Completion = CompleteRequest['completions'][number]

/** Bytes a completion adds to its frame besides its record: id, epoch, status and the JSON around them. */
const COMPLETION_FIXED_BYTES = 128

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
  /**
   * Where the reporter tells of completions their owner called stale (`completion-stale`) or that
   * no try delivered (`completion-undelivered`: the owner is gone): their records may lose to a
   * run elsewhere. @defaultValue told to no one
   */
  events?: Pick<TaskEvents, 'emit'>
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
  /**
   * Per owner: completions not sent yet, and whether a report to it is in flight. A completion
   * goes out at once (on the microtask after the code that finished it) unless a report to its
   * owner is in flight; those that come meanwhile go together as soon as it is answered. No
   * timer: no added latency at low rates, one report per round trip under load — in frames of
   * at most `FRAME_BUDGET_BYTES` of records and `MAX_LEASES_PER_MESSAGE` completions, sent at once.
   */
  private readonly owners = new Map<string, { queued: Completion[]; inFlight: boolean; scheduled: boolean }>()

  constructor(private readonly opts: CompletionReporterOptions) {}

  /**
   * Queues a completion for its owner; completions to one owner travel together, each with its
   * record, whatever its size (a record larger than the frame budget goes in a frame of its own):
   * the owner so holds every record of its tasks, and wakes its waiters with it. Returns the
   * owner (it needs no copy).
   */
  report(owner: string, record: ResultRecord, value: Uint8Array): string {
    let state = this.owners.get(owner)
    if (state === undefined) {
      state = { queued: [], inFlight: false, scheduled: false }
      this.owners.set(owner, state)
    }
    state.queued.push({
      taskId: record.taskId,
      epoch: record.epoch,
      status: record.status,
      record: toBase64(value),
    })
    this.schedule(owner, state)
    return owner
  }

  /** Sends every pending completion now (the node stops). */
  flushNow(): void {
    for (const [owner, state] of this.owners) {
      if (state.queued.length === 0) continue
      const completions = state.queued
      state.queued = []
      void this.flushAll(owner, completions)
    }
  }

  private schedule(
    owner: string,
    state: { queued: Completion[]; inFlight: boolean; scheduled: boolean },
  ): void {
    if (state.inFlight || state.scheduled || state.queued.length === 0) return
    state.scheduled = true
    queueMicrotask(() => {
      state.scheduled = false
      if (state.inFlight || state.queued.length === 0) return
      const completions = state.queued
      state.queued = []
      state.inFlight = true
      void this.flushAll(owner, completions).finally(() => {
        state.inFlight = false
        if (state.queued.length > 0) this.schedule(owner, state)
        else this.owners.delete(owner)
      })
    })
  }

  /**
   * Reports `completions` in frames the owner decodes cheaply (see `FRAME_BUDGET_BYTES`; a frame
   * over 128 KiB of text cost it ~40× per byte to decode) and its schema takes (at most
   * `MAX_LEASES_PER_MESSAGE`), all at once.
   */
  private async flushAll(owner: string, completions: Completion[]): Promise<void> {
    const frames = frameChunks(completions, bytesOf, FRAME_BUDGET_BYTES, MAX_LEASES_PER_MESSAGE)
    await Promise.all(Array.from(frames, (frame) => this.flush(owner, frame)))
  }

  private async flush(owner: string, completions: Completion[]): Promise<void> {
    if (!(await this.deliver(owner, completions)) && !this.opts.isStopped()) {
      for (const c of completions) this.opts.events?.emit(c.taskId, 'completion-undelivered', { owner })
    }
  }

  /** Reports to the owner, trying again after failures; false when no try got an answer. */
  private async deliver(owner: string, completions: Completion[]): Promise<boolean> {
    for (let attempt = 1; attempt <= COMPLETION_ATTEMPTS && !this.opts.isStopped(); attempt++) {
      if (attempt > 1) {
        await delay(backoffDelayMs(attempt - 1, this.opts.random ?? Math.random, COMPLETION_BACKOFF))
        if (this.opts.isStopped()) return false
      }
      try {
        const req: CompleteRequest = { type: 'complete', requestId: crypto.randomUUID(), completions }
        const reply = await this.opts.steal.request(owner, req)
        for (const { taskId, outcome } of reply.outcomes) {
          if (outcome !== 'stale') continue
          this.opts.counters.staleCompletions++
          this.opts.events?.emit(taskId, 'completion-stale', { owner })
          this.opts.onStale?.(taskId, owner)
        }
        return true
      } catch {
        // the DHT record still carries the results; try the owner again
      }
    }
    return false
  }
}

/** What a completion adds to its frame, about: its record's base64 and the fields around it. */
function bytesOf(c: Completion): number {
  return COMPLETION_FIXED_BYTES + (c.record?.length ?? 0)
}

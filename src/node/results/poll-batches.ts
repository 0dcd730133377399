import { Batcher } from '../../util/batcher.ts'
import type { FoundRecord } from './batch-lookup.ts'

/** Batch lookups of waiters' polls go out at most this often, ms (the first after a quiet spell at once). */
export const POLL_BATCH_MS = 50

/** What a check of one task comes to: its record, surely none yet (`null`), or no answer (`undefined`). */
export type PollVerdict = FoundRecord | null | undefined

interface Check {
  taskId: string
  resolve(verdict: PollVerdict): void
}

/**
 * Gathers the polls of a node's result waiters into batch lookups (`BatchLookup`: the fetch
 * protocol): the checks asked meanwhile go out together, at most one batch per
 * {@link POLL_BATCH_MS}, the tasks bound for a peer in frames of 1,000 — where each was a DHT
 * lookup of ~3 ms of CPU, 20 a second at most (`PollPacer`). A task the batch does not answer for is
 * the caller's to look up in the DHT.
 */
export class PollBatches {
  private readonly checks: Batcher<Check>
  private closed = false

  constructor(
    private readonly lookUp: (taskIds: string[]) => Promise<Map<string, FoundRecord | null>>,
    windowMs = POLL_BATCH_MS,
  ) {
    this.checks = new Batcher(windowMs, (checks) => void this.answer(checks))
  }

  /** What the next batch finds of `taskId` (`undefined` at once once closed). Never rejects. */
  check(taskId: string): Promise<PollVerdict> {
    if (this.closed) return Promise.resolve(undefined)
    return new Promise<PollVerdict>((resolve) => this.checks.add({ taskId, resolve }))
  }

  /** Ends every check waiting with no answer; later checks get none either. */
  close(): void {
    this.closed = true
    this.checks.flushNow()
  }

  private async answer(checks: Check[]): Promise<void> {
    const ids = [...new Set(checks.map((c) => c.taskId))]
    const none = new Map<string, FoundRecord | null>()
    const answers = this.closed ? none : await this.lookUp(ids).catch(() => none)
    for (const c of checks) c.resolve(answers.get(c.taskId))
  }
}

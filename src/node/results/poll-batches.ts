import type { FoundRecord } from './batch-lookup.ts'

/** How long waiters' checks gather before they go out as one batch lookup, ms. */
export const POLL_BATCH_MS = 50

/** What a check of one task comes to: its record, surely none yet (`null`), or no answer (`undefined`). */
export type PollVerdict = FoundRecord | null | undefined

/**
 * Gathers the polls of a node's result waiters into batch lookups (`BatchLookup`: the fetch
 * protocol): the checks asked within {@link POLL_BATCH_MS} of the first go out together, the tasks
 * bound for a peer in frames of 1,000 — where each was a DHT lookup of ~3 ms of CPU, 20 a second at
 * most (`PollPacer`). A task the batch does not answer for is the caller's to look up in the DHT.
 */
export class PollBatches {
  private pending = new Map<string, Array<(verdict: PollVerdict) => void>>()
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor(
    private readonly lookUp: (taskIds: string[]) => Promise<Map<string, FoundRecord | null>>,
    private readonly windowMs = POLL_BATCH_MS,
  ) {}

  /** What the next batch finds of `taskId` (`undefined` at once once closed). Never rejects. */
  check(taskId: string): Promise<PollVerdict> {
    if (this.closed) return Promise.resolve(undefined)
    return new Promise<PollVerdict>((resolve) => {
      const waiting = this.pending.get(taskId)
      if (waiting === undefined) this.pending.set(taskId, [resolve])
      else waiting.push(resolve)
      this.timer ??= setTimeout(() => void this.flush(), this.windowMs)
    })
  }

  /** Ends every check waiting with no answer; later checks get none either. */
  close(): void {
    this.closed = true
    clearTimeout(this.timer)
    this.timer = undefined
    this.answer(this.take(), new Map())
  }

  private async flush(): Promise<void> {
    this.timer = undefined
    const batch = this.take()
    const answers = await this.lookUp([...batch.keys()]).catch(() => new Map<string, FoundRecord | null>())
    this.answer(batch, answers)
  }

  private take(): Map<string, Array<(verdict: PollVerdict) => void>> {
    const batch = this.pending
    this.pending = new Map()
    return batch
  }

  private answer(
    batch: Map<string, Array<(verdict: PollVerdict) => void>>,
    answers: Map<string, FoundRecord | null>,
  ): void {
    for (const [id, resolvers] of batch) {
      const verdict = answers.get(id)
      for (const resolve of resolvers) resolve(verdict)
    }
  }
}

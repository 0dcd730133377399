import type { ResultRecord } from '../../protocol/records/result-record.ts'
import type { Task } from '../../task/task.ts'
import { AimdLimit } from '../../util/aimd-limit.ts'
import { eachWithin } from '../../util/each-limited.ts'
import type { BatchLookup, FoundRecord } from '../results/batch-lookup.ts'
import type { ResultStore } from '../results/result-store.ts'

/** Most DHT lookups in flight while a successor checks the tasks it would adopt (see `AimdLimit`). */
export const ADOPTION_LOOKUPS = 32
/** DHT lookups in flight at a custodian's first sweep; then as the lookups answer or time out. */
export const ADOPTION_LOOKUPS_FIRST = 4
/** Longest one such lookup may take, ms. */
export const ADOPTION_LOOKUP_MS = 5_000
/**
 * Sweeps in which a task's lookup may fail (time out, no peer answers) before the successor adopts
 * it all the same: a failed lookup is no evidence of a missing result (results are idempotent).
 */
export const ADOPTION_LOOKUP_TRIES = 3
/** Tasks in the first chunk of a long run of lookups; each chunk after is twice the last, up to {@link LOOKUP_CHUNK_MAX}. */
export const LOOKUP_CHUNK_FIRST = 64
/** Tasks in a chunk of lookups at most. */
export const LOOKUP_CHUNK_MAX = 1_024

/** Options of {@link OpenLookups}. */
export interface OpenLookupsOptions {
  /** The DHT the results are looked up in. */
  results: Pick<ResultStore, 'get'>
  /** True once the node stops: no lookup is started after. */
  stopped(): boolean
  /** A task's result was found. */
  found(taskId: string): void
  /**
   * Looks many tasks up at once at the peers closest to their keys (`BatchLookup`): a task it
   * answers for needs no DHT lookup. @defaultValue none: a DHT lookup per task
   */
  batch?: Pick<BatchLookup, 'lookUp'>
}

/** What {@link OpenLookups.each} hands on per chunk: the tasks looked up, and of those the ones without a result. */
export interface CheckedChunk {
  checked: Task[]
  open: Task[]
  /**
   * Per open task, what the lookup found (`no record at the closest peers` from the batch lookup,
   * `no record found` from a DHT lookup, `lookup failed 3×: …`).
   */
  why: Map<string, string>
}

/**
 * The DHT lookups of a node taking tasks into its hands — its own after a restart (journal replay),
 * a dead owner's (adoption): is there a result already? A lookup costs its node 3–4 ms of CPU (kad-dht's
 * query, the peer store's updates): 20,000 replayed tasks took 76 s of lookups, and none was queued
 * before they all ended. They now go in chunks of 64, 128, … up to 1,024 tasks, and each chunk's
 * open tasks are handed on as soon as its lookups end, while the next chunk's run. With a batch
 * lookup (`BatchLookup`: the fetch protocol), a chunk is first asked of the peers closest to its
 * tasks' keys at once, and only the tasks it leaves open get a DHT lookup each: 20,000 replayed
 * tasks were all queued 6.5 s after the restart, against 49 s.
 */
export class OpenLookups {
  private readonly failed = new Map<string, number>()
  /** DHT lookups at once: adapted as they answer or time out, from sweep to sweep. */
  private readonly limit = new AimdLimit({ initial: ADOPTION_LOOKUPS_FIRST, min: 1, max: ADOPTION_LOOKUPS })

  constructor(private readonly opts: OpenLookupsOptions) {}

  /** Forgets the failed lookups counted for a task. */
  forget(taskId: string): void {
    this.failed.delete(taskId)
  }

  /**
   * Looks every task up, chunk by chunk, and calls `use` with each chunk's outcome, in order, one
   * call at a time (a call runs while the next chunk's lookups do). A failed lookup counts as no
   * result; with `deferFailed`, the task is left out (for the next sweep) until it failed
   * {@link ADOPTION_LOOKUP_TRIES} times. A `use` that throws keeps no later chunk from its call:
   * the first error is thrown once every chunk was handed on.
   */
  async each(
    tasks: Task[],
    deferFailed: boolean,
    use: (chunk: CheckedChunk) => Promise<void>,
  ): Promise<void> {
    let handed: Promise<void> = Promise.resolve()
    let failure: { err: unknown } | undefined
    for (
      let at = 0, size = LOOKUP_CHUNK_FIRST;
      at < tasks.length;
      size = Math.min(2 * size, LOOKUP_CHUNK_MAX)
    ) {
      if (this.opts.stopped()) break
      const checked = tasks.slice(at, at + size)
      at += size
      const { open, why } = await this.withoutResult(checked, deferFailed)
      if (this.opts.stopped()) break
      handed = handed
        .then(() => use({ checked, open, why }))
        .catch((err: unknown) => {
          failure ??= { err }
        })
    }
    await handed
    if (failure !== undefined) throw failure.err
  }

  /** What the batch lookup answers for `tasks` (nothing, without one or when it fails). */
  private async batched(tasks: Task[]): Promise<Map<string, FoundRecord | null>> {
    if (this.opts.batch === undefined || tasks.length === 0) return new Map()
    return this.opts.batch.lookUp(tasks.map((t) => t.id)).catch(() => new Map())
  }

  /** The tasks whose result the batch lookup or a DHT lookup does not find, and why. */
  private async withoutResult(
    tasks: Task[],
    deferFailed: boolean,
  ): Promise<{ open: Task[]; why: Map<string, string> }> {
    const open: Task[] = []
    const why = new Map<string, string>()
    const lookUp = async (task: Task, ticket: number): Promise<void> => {
      let found: ResultRecord | undefined
      const signal = AbortSignal.timeout(ADOPTION_LOOKUP_MS) // its end, not another error, is a time-out
      try {
        found = await this.opts.results.get(task.id, { skipCache: true, dhtOnly: true, signal })
        this.limit.answered()
      } catch (err) {
        if (signal.aborted) this.limit.timedOut(ticket)
        const failures = (this.failed.get(task.id) ?? 0) + 1
        if (deferFailed && failures < ADOPTION_LOOKUP_TRIES) {
          this.failed.set(task.id, failures)
          return
        }
        this.failed.delete(task.id)
        open.push(task)
        why.set(task.id, `lookup failed ${failures}×: ${(err as Error).message}`)
        return
      }
      this.failed.delete(task.id)
      if (found === undefined) {
        open.push(task)
        why.set(task.id, 'no record found')
      } else this.opts.found(task.id)
    }
    const answered = await this.batched(tasks)
    const unanswered: Task[] = []
    for (const task of tasks) {
      const record = answered.get(task.id)
      if (record === undefined) unanswered.push(task)
      else {
        this.failed.delete(task.id)
        if (record !== null) this.opts.found(task.id)
        else {
          open.push(task)
          why.set(task.id, 'no record at the closest peers')
        }
      }
    }
    await eachWithin(unanswered, this.limit, lookUp, this.opts.stopped)
    const isOpen = new Set(open) // in the order given, not the order the lookups ended
    return { open: tasks.filter((t) => isOpen.has(t)), why }
  }
}

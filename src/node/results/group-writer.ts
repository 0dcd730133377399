import type { Batch, Key } from 'interface-datastore'

/**
 * Under load, a node's record writes go to its datastore at most once per this window: every write
 * asked meanwhile waits and joins the next batch. Each batch costs a wake of libuv's pool, a LevelDB
 * write and the promises around it whatever it holds (the skewed 2-daemon run: 0.30–0.36 → 0.16–0.17
 * batches per task per daemon; CPU per task of both daemons 1.16 against 1.28 ms, the means of 3
 * alternating runs). No answer a subscriber waits for hangs on these writes: a record is known, and
 * its waiters woken, before its local copy is written.
 */
export const WRITE_GAP_MS = 8

interface Write {
  key: Key
  /** The value put (made as the batch is built, when a function), or none for a delete. */
  value: Uint8Array | (() => Uint8Array | undefined) | undefined
}

/**
 * Group commit for a datastore's writes: `put` and `delete` resolve once the batch that holds them
 * is committed, and ops are applied in the order they were asked. A write after a quiet spell
 * (no commit in the last `gapMs`) is committed on the next turn of the event loop with whatever
 * else that turn asked; a busy writer commits at most once per `gapMs`, and never while its last
 * batch is still being committed.
 */
export class GroupWriter {
  private pending: Write[] = []
  /** Settles when the batch of {@link pending} is committed: one promise per batch, not per write. */
  private pendingDone: PromiseWithResolvers<void> | undefined
  /** Values of the batch being committed (a datastore without batches of its own puts each). */
  private readonly committing = new Set<Uint8Array>()
  private inFlight: Promise<void> | undefined
  private cancelWake: (() => void) | undefined
  private lastCommit = Number.NEGATIVE_INFINITY

  /**
   * @param batch - a new batch of the datastore written to
   * @param gapMs - the least time between two commits of a busy writer
   * @param now - a monotonic clock, ms
   */
  constructor(
    private readonly batch: () => Batch,
    private readonly gapMs = WRITE_GAP_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  put(key: Key, value: Uint8Array): Promise<void> {
    return this.add(key, value)
  }

  /**
   * Puts `key` in the next batch with the value `make` returns as that batch is built (nothing
   * when it returns undefined): a value that gathers what the writes asked until then.
   */
  putLater(key: Key, make: () => Uint8Array | undefined): Promise<void> {
    return this.add(key, make)
  }

  /** Deletes `key` in the next batch. */
  delete(key: Key): Promise<void> {
    return this.add(key, undefined)
  }

  /** True when `value` is being written by a batch of this writer (its put is the batch's own). */
  isCommitting(value: Uint8Array): boolean {
    return this.committing.has(value)
  }

  /** Commits what waits now, without waiting for the window; resolves once nothing is pending. */
  async flush(): Promise<void> {
    this.cancelWake?.()
    this.cancelWake = undefined
    while (this.inFlight !== undefined || this.pending.length > 0) {
      await (this.inFlight ?? this.commit())
    }
  }

  private add(key: Key, value: Write['value']): Promise<void> {
    this.pendingDone ??= Promise.withResolvers<void>()
    this.pending.push({ key, value })
    this.schedule()
    return this.pendingDone.promise
  }

  /** Wakes the next commit: on the next turn after a quiet spell, else when the window ends. */
  private schedule(): void {
    if (this.cancelWake !== undefined || this.inFlight !== undefined || this.pending.length === 0) return
    const wake = () => {
      this.cancelWake = undefined
      void this.commit()
    }
    const wait = this.lastCommit + this.gapMs - this.now()
    if (wait > 0) {
      const timer = setTimeout(wake, wait)
      this.cancelWake = () => clearTimeout(timer)
    } else {
      const immediate = setImmediate(wake)
      this.cancelWake = () => clearImmediate(immediate)
    }
  }

  private commit(): Promise<void> {
    const writes = this.pending
    const done = this.pendingDone
    this.pending = []
    this.pendingDone = undefined
    this.lastCommit = this.now()
    const inFlight = this.write(writes, done).finally(() => {
      this.inFlight = undefined
      this.schedule()
    })
    this.inFlight = inFlight
    return inFlight
  }

  private async write(writes: Write[], done: PromiseWithResolvers<void> | undefined): Promise<void> {
    try {
      const batch = this.batch()
      for (const w of writes) {
        if (w.value === undefined) batch.delete(w.key)
        else {
          const value = typeof w.value === 'function' ? w.value() : w.value
          if (value === undefined) continue
          this.committing.add(value)
          batch.put(w.key, value)
        }
      }
      await batch.commit()
      done?.resolve()
    } catch (err) {
      done?.reject(err)
    } finally {
      // one batch is committed at a time: what it put is all that is committing
      this.committing.clear()
    }
  }
}

import type { ResultRecord } from '../../protocol/records/result-record.ts'
import { onAbort as onAbortOf } from '../../util/abort-fanout.ts'
import { monotonicNow } from '../../util/clock.ts'

/** How often waiters' deadlines are checked, ms. */
const DEADLINE_SWEEP_MS = 1_000

/**
 * Whoever waits for a task's result record, woken the moment one is known here (or, for
 * `waitStored`, once one is in the local store). A wait ends on
 * its signal, or — without one — at its deadline; one sweep a second serves every deadline, so
 * waiting costs no timer of its own. Once the node stops ({@link close}) every wait ends.
 */
export class ResultWaiters {
  /** Per task, each waiter: what hands it the record, and what ends it with an error. */
  private readonly waiters = new Map<string, Map<(r: ResultRecord) => void, (reason: unknown) => void>>()
  /** Waiters' deadlines (waits without a signal), swept once a second. */
  private readonly deadlines = new Set<{ at: number; expire: () => void }>()
  private sweep: NodeJS.Timeout | undefined
  private readonly storedWaiters = new Map<string, Array<() => void>>()
  /** Set by {@link close}: what a wait of each task ends with from then on. */
  private closedWith: ((taskId: string) => unknown) | undefined

  /** True when someone waits for the task's result. */
  has(taskId: string): boolean {
    return this.waiters.has(taskId)
  }

  /**
   * Resolves with the task's record once {@link wake} brings one. Rejects with `signal`'s reason
   * when it aborts, or — without a signal — with a `TimeoutError` once `timeoutMs` passed.
   */
  wait(taskId: string, signal?: AbortSignal, timeoutMs?: number): Promise<ResultRecord> {
    const closed = this.closedWith
    if (closed !== undefined) return Promise.reject(closed(taskId))
    return new Promise((resolve, reject) => {
      const set = this.waiters.get(taskId) ?? new Map()
      let unlisten: (() => void) | undefined
      let deadline: { at: number; expire: () => void } | undefined
      const done = (r: ResultRecord) => {
        unlisten?.()
        if (deadline !== undefined) this.deadlines.delete(deadline)
        resolve(r)
      }
      const give = (reason: unknown) => {
        unlisten?.()
        if (deadline !== undefined) this.deadlines.delete(deadline)
        set.delete(done)
        if (set.size === 0) this.waiters.delete(taskId)
        reject(reason)
      }
      const onAbort = () => give(signal?.reason ?? new Error('aborted'))
      if (signal?.aborted === true) return onAbort()
      // one listener on the signal for all its waits (see `onAbort`): one signal may end thousands
      unlisten = signal === undefined ? undefined : onAbortOf(signal, onAbort)
      deadline =
        signal === undefined && timeoutMs !== undefined
          ? {
              at: monotonicNow() + timeoutMs,
              expire: () =>
                give(new DOMException(`no result for ${taskId} within ${timeoutMs} ms`, 'TimeoutError')),
            }
          : undefined
      if (deadline !== undefined) this.watchDeadline(deadline)
      set.set(done, give)
      this.waiters.set(taskId, set)
    })
  }

  /** Hands `record` to everyone waiting for its task. */
  wake(record: ResultRecord): void {
    const waiting = this.waiters.get(record.taskId)
    if (waiting !== undefined) {
      this.waiters.delete(record.taskId)
      for (const w of waiting.keys()) w(record)
    }
  }

  /**
   * Ends every wait still pending, and every later one at once, with `reason(taskId)` (the node
   * stopped: no record will come). Waits for a local copy ({@link waitStored}) are left as they are.
   */
  close(reason: (taskId: string) => unknown): void {
    this.closedWith ??= reason
    const pending = [...this.waiters]
    this.waiters.clear()
    for (const [taskId, set] of pending) for (const give of [...set.values()]) give(reason(taskId))
    clearInterval(this.sweep)
    this.sweep = undefined
    this.deadlines.clear()
  }

  /** Resolves once {@link wakeStored} says a record of the task is in the local store. */
  waitStored(taskId: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const list = this.storedWaiters.get(taskId) ?? []
      list.push(resolve)
      this.storedWaiters.set(taskId, list)
    })
  }

  /** Wakes whoever waits for a local copy of the task's record. */
  wakeStored(taskId: string): void {
    const list = this.storedWaiters.get(taskId)
    if (list === undefined) return
    this.storedWaiters.delete(taskId)
    for (const resolve of list) resolve()
  }

  /** Rejects a waiter past its deadline; one sweep a second serves every waiter. */
  private watchDeadline(deadline: { at: number; expire: () => void }): void {
    this.deadlines.add(deadline)
    if (this.sweep !== undefined) return
    this.sweep = setInterval(() => {
      const now = monotonicNow()
      for (const d of this.deadlines) {
        if (d.at > now) continue
        this.deadlines.delete(d)
        d.expire()
      }
      if (this.deadlines.size === 0) {
        clearInterval(this.sweep)
        this.sweep = undefined
      }
    }, DEADLINE_SWEEP_MS)
    this.sweep.unref()
  }
}

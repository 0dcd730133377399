import type { Task } from '../../task/task.ts'
import type { TaskEvents } from '../story/task-events.ts'
import type { CustodyKeeper } from './custody-keeper.ts'
import type { OwnerLedger } from './owner-ledger.ts'

/** One wait: how many of its tasks are still open, and what to call when none is. */
interface Countdown {
  left: number
  resolve: () => void
}

/**
 * Waits for tasks this node owns to settle (get their result). Custody protects a task only while
 * it is open: a submission whose tasks all ended before their custodians acknowledged them need
 * not wait for the acknowledgement (its answer carries the results; the custodians are told to
 * forget the tasks as usual). One registry for every wait, fed by the ledger's `settled` events,
 * so a settled task costs one map lookup however many submissions wait.
 */
export class SettledWaits {
  private readonly waits = new Map<string, Set<Countdown>>()

  /** @param open - true while the task is owned here and has no result */
  constructor(private readonly open: (taskId: string) => boolean) {}

  /** Tasks with at least one wait on them. */
  get size(): number {
    return this.waits.size
  }

  /**
   * Resolves once none of `ids` is open here (at once when none is now). When `signal` aborts,
   * the wait is dropped and never resolves.
   */
  all(ids: readonly string[], signal: AbortSignal): Promise<void> {
    const pending = [...new Set(ids)].filter((id) => this.open(id))
    if (pending.length === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const countdown: Countdown = { left: pending.length, resolve }
      for (const id of pending) {
        let set = this.waits.get(id)
        if (set === undefined) {
          set = new Set()
          this.waits.set(id, set)
        }
        set.add(countdown)
      }
      signal.addEventListener('abort', () => this.drop(pending, countdown), { once: true })
    })
  }

  /** The task got its result: every wait on it counts it. */
  settled(taskId: string): void {
    const set = this.waits.get(taskId)
    if (set === undefined) return
    this.waits.delete(taskId)
    for (const countdown of set) if (--countdown.left === 0) countdown.resolve()
  }

  private drop(ids: readonly string[], countdown: Countdown): void {
    for (const id of ids) {
      const set = this.waits.get(id)
      if (set === undefined) continue
      set.delete(countdown)
      if (set.size === 0) this.waits.delete(id)
    }
  }
}

/** What {@link custodyHold} works with. */
export interface CustodyHoldOptions {
  keeper: Pick<CustodyKeeper, 'hold' | 'drop' | 'current'>
  ledger: Pick<OwnerLedger, 'has' | 'ended'>
  events: TaskEvents
  /** Longest wait for the custodians' acknowledgement, ms (custody goes on after). */
  waitMs: number
}

/**
 * The owner's hand-over of tasks it took (submitted, replayed, adopted) to its custodians: waits
 * for their acknowledgement `waitMs` at most, and no longer once every task has its result — a
 * task waiting on others is not in the ledger yet, so a submission with dependencies waits as
 * before. Tasks that ended before the hand-over are not handed over; ended tasks are dropped from
 * custody. Returns the hand-over.
 */
export function custodyHold(opts: CustodyHoldOptions): (tasks: Task[]) => Promise<void> {
  const { keeper, events } = opts
  const settled = new SettledWaits((id) => opts.ledger.has(id))
  events.on((e) => {
    if (e.event !== 'settled') return
    keeper.drop([e.taskId])
    settled.settled(e.taskId)
  })
  return async (tasks) => {
    // a task that ended already (a quick one, run before this) needs no custodian
    const guarded = tasks.filter((t) => !opts.ledger.ended(t.id))
    if (guarded.length > 0) {
      const waiting = new AbortController()
      const ids = guarded.map((t) => t.id)
      const waits = [keeper.hold(guarded), new Promise((resolve) => setTimeout(resolve, opts.waitMs).unref())]
      if (guarded.every((t) => t.spec.dependsOn.length === 0)) waits.push(settled.all(ids, waiting.signal))
      await Promise.race(waits)
      waiting.abort()
    }
    for (const t of tasks) events.emit(t.id, 'announced', { custodians: keeper.current.length })
  }
}

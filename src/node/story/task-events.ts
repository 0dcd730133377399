/** Facts of a task event: peer ids, epochs, errors. */
export type TaskEventDetail = Record<string, string | number | boolean>

/** Something a node decided or saw about one task. */
export interface TaskEvent {
  taskId: string
  /**
   * What happened: `accepted`, `queued`, `waiting-on-deps`, `announced`, `granted`, `stolen`,
   * `started`, `retried`, `finished`, `stored`, `completed`, `released`, `lease-expired`,
   * `lease-lost`, `cancelled`, `adopted`, `replayed`, `unschedulable`, …
   */
  event: string
  /** Unix ms. */
  at: number
  detail?: TaskEventDetail
}

/** Receives every task event of a node, in the order they happen. */
export type TaskEventListener = (event: TaskEvent) => void

/**
 * The node's one stream of task events. The parts that decide about a task (the owner's ledger,
 * the thief, the run loop, the result publisher, cancellation, the dependency gate) emit here;
 * whoever reports on tasks — the story log, and any other observer — listens here, so a task's
 * story is written in one place whatever part acted.
 */
export class TaskEvents {
  private readonly listeners: TaskEventListener[] = []

  /** Adds a listener; returns what removes it. */
  on(listener: TaskEventListener): () => void {
    this.listeners.push(listener)
    return () => {
      const i = this.listeners.indexOf(listener)
      if (i >= 0) this.listeners.splice(i, 1)
    }
  }

  /** Listeners attached now. */
  get listenerCount(): number {
    return this.listeners.length
  }

  /** Tells every listener what happened to a task now. */
  emit(taskId: string, event: string, detail?: TaskEventDetail): void {
    if (this.listeners.length === 0) return
    const e: TaskEvent =
      detail === undefined ? { taskId, event, at: Date.now() } : { taskId, event, at: Date.now(), detail }
    for (const listener of this.listeners) listener(e)
  }
}

/** `detail` with the handler's `stack` beside it, when there is one (logs show it below the line). */
export function withStack(detail: TaskEventDetail, stack: string | undefined): TaskEventDetail {
  return stack === undefined ? detail : { ...detail, stack }
}

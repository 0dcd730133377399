import type { QueuedTask } from './types.ts'

/** Queued tasks of one shape: same handler type and same resources, so the same work and fit. */
export interface ShapeCount {
  /** One of the tasks (any): its `type` and `resources` stand for the shape. */
  sample: QueuedTask
  /** Tasks of this shape queued. */
  all: number
  /** Of those, the stealable ones. */
  stealable: number
}

/**
 * A task's shape: its handler type and resources, what its weight and fit depend on. Tasks of one
 * shape are counted together here and queued in one lane (`TaskQueue`).
 */
export function shapeOf(task: QueuedTask): string {
  if (task.shape !== undefined) return task.shape
  const r = task.resources
  const labels = r.labels.length === 0 ? '' : r.labels.join('\n')
  return `${r.slots}\n${r.memoryMb}\n${task.type}\n${labels}`
}

/**
 * A queue's tasks counted by shape. What a queued task weighs (its duration estimate, whether this
 * node can run it) depends on its type and resources only, so the work a queue represents is a sum
 * over its few shapes instead of over its tasks: a node holding 100,000 tasks of one type sums one
 * term for every beacon and status, not 100,000. Callers add and remove exactly the tasks that
 * enter and leave the queue.
 */
export class WorkTally {
  private readonly shapes = new Map<string, ShapeCount>()

  /** Counts a task that entered the queue. */
  add(task: QueuedTask): void {
    const key = shapeOf(task)
    let shape = this.shapes.get(key)
    if (shape === undefined) {
      shape = { sample: task, all: 0, stealable: 0 }
      this.shapes.set(key, shape)
    }
    shape.all++
    if (task.stealable) shape.stealable++
  }

  /** Uncounts a task that left the queue (one that was counted by {@link add}). */
  remove(task: QueuedTask): void {
    const key = shapeOf(task)
    const shape = this.shapes.get(key)
    if (shape === undefined) return
    shape.all--
    if (task.stealable) shape.stealable--
    if (shape.all <= 0) this.shapes.delete(key)
  }

  /** The shapes with at least one queued task. */
  values(): IterableIterator<ShapeCount> {
    return this.shapes.values()
  }
}

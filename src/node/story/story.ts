import { trimOldest } from '../../util/trim-oldest.ts'
import type { TaskEvent, TaskEvents } from './task-events.ts'

/** What happened to a task at one node, and when. */
export interface StoryEvent {
  /** Unix ms. */
  at: number
  /** e.g. `accepted`, `announced`, `granted`, `stolen`, `started`, `retried`, `finished`, `stored`. */
  event: string
  /** Facts of the event: peer ids, epochs, errors. */
  detail?: Record<string, string | number | boolean>
}

/** Tasks whose story a node keeps (the oldest are forgotten first). */
export const DEFAULT_STORY_TASKS = 10_000
/** Events kept per task (the oldest are dropped first). */
export const DEFAULT_STORY_EVENTS = 64

/**
 * A bounded decision log per task, like Dask's `story(key)`: every scheduling decision a node
 * takes about a task, so `taskmesh story <id>` can tell why a task ran where and when.
 */
export class StoryLog {
  /** Per task, its events as emitted (the stream's own objects: no copy is made per event). */
  private readonly stories = new Map<string, Array<TaskEvent | StoryEvent>>()

  constructor(
    private readonly maxTasks = DEFAULT_STORY_TASKS,
    private readonly maxEvents = DEFAULT_STORY_EVENTS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Writes every event of `events` into its task's story from now on; returns what stops it. */
  listen(events: TaskEvents): () => void {
    return events.on((e: TaskEvent) => this.append(e.taskId, e))
  }

  /** Appends an event to a task's story. */
  record(taskId: string, event: string, detail?: StoryEvent['detail']): void {
    this.append(taskId, detail === undefined ? { at: this.now(), event } : { at: this.now(), event, detail })
  }

  private append(taskId: string, event: TaskEvent | StoryEvent): void {
    let story = this.stories.get(taskId)
    if (story === undefined) {
      story = []
      this.stories.set(taskId, story)
      trimOldest(this.stories, this.maxTasks)
    }
    story.push(event)
    if (story.length > this.maxEvents) story.shift()
  }

  /** A task's story, oldest first (empty when this node knows nothing of it). */
  get(taskId: string): StoryEvent[] {
    return (this.stories.get(taskId) ?? []).map((e) =>
      e.detail === undefined ? { at: e.at, event: e.event } : { at: e.at, event: e.event, detail: e.detail },
    )
  }

  /** Tasks with a story here. */
  get size(): number {
    return this.stories.size
  }
}

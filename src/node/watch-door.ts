import type { TaskEventListener } from './story/task-events.ts'
import type { MeshView } from './watch/mesh-view.ts'
import type { TaskListPage, TaskListQuery } from './watch/task-list.ts'

/**
 * What an operator's views of a node read — the event stream, the task listing and the mesh view
 * of the HTTP API (`GET /events`, `GET /tasks`, `GET /mesh`) and the dashboard. `TaskmeshNode`
 * implements it beside {@link FrontDoor}.
 */
export interface WatchDoor {
  /** Calls `listener` with every task event of this node from now on; returns what stops it. */
  onTaskEvent(listener: TaskEventListener): () => void
  /** The tasks this node owns (waiting, queued, leased, running) and the last ones that ended. */
  listTasks(query?: TaskListQuery): TaskListPage
  /** Every node this node hears of, with its capacity and load. */
  meshView(): MeshView
}

/** True when `door` offers the operator's views (a `TaskmeshNode` does). */
export function isWatchDoor(door: object): door is WatchDoor {
  const d = door as Partial<WatchDoor>
  return (
    typeof d.onTaskEvent === 'function' &&
    typeof d.listTasks === 'function' &&
    typeof d.meshView === 'function'
  )
}

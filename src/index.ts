/**
 * taskmesh's library API: a full mesh node, a light client, and the types of tasks and results.
 * @packageDocumentation
 */
import './polyfill.ts'

export {
  type EventGap,
  EventStreamEnded,
  isEventGap,
  type WatchedEvent,
} from './client/event-source.ts'
export { HttpClient, type HttpClientOptions } from './client/http-client.ts'
export type {
  CancelOutcome,
  MeshClient,
  ResultOptions,
  StoryEvents,
  TaskStateReply,
} from './client/mesh-client.ts'
export { TaskmeshClient, type TaskmeshClientOptions } from './client/taskmesh-client.ts'
export {
  type HandlerContext,
  type HandlerDefinition,
  type HandlerFn,
  UnrecoverableError,
} from './executor/handler.ts'
export { HandlerRegistry } from './executor/handler-registry.ts'
export { WorkerPool } from './executor/worker-pool.ts'
export { HttpApi, type HttpApiOptions } from './http/http-api.ts'
export { type ExtraRoutes, type OpsTarget, opsRoutes } from './http/ops-routes.ts'
export { createLogger, type Logger, type LoggerOptions, type LogLevel } from './log/logger.ts'
export { DataDirInUseError } from './node/data-dir-lock.ts'
export type { FrontDoor } from './node/front-door.ts'
export type { NodeStatus } from './node/node-status.ts'
export type { TaskmeshNodeOptions } from './node/options.ts'
export type { CancelResult, TaskState } from './node/owner/cancellation.ts'
export type { GraphItemInput } from './node/owner/submission.ts'
export type { GetOptions } from './node/results/result-lookup.ts'
export type { StoryEvent } from './node/story/story.ts'
export type { TaskEvent } from './node/story/task-events.ts'
export type { SubmitOptions, TaskHandle } from './node/task-handle.ts'
export { TaskmeshNode } from './node/taskmesh-node.ts'
export type { NodeMetrics } from './node/telemetry/node-metrics.ts'
export type { MeshNode, MeshView } from './node/watch/mesh-view.ts'
export type { ListedState, ListedTask, TaskListPage, TaskListQuery } from './node/watch/task-list.ts'
export type { WatchDoor } from './node/watch-door.ts'
export { type AgingPolicy, DEFAULT_AGING, type QueuePolicy, STRICT_PRIORITY } from './policy/priority.ts'
export { RemoteError } from './protocol/errors.ts'
export type { ResultRecord } from './protocol/records/result-record.ts'
export {
  InvalidTaskError,
  NodeStoppedError,
  OwnerDownError,
  QueueFullError,
  ResultNotFoundError,
  SubmitterNotAllowedError,
  UnknownHandlerError,
  UnknownTaskError,
} from './task/errors.ts'
export type { Json, Resources, TaskSpec, TaskSpecInput } from './task/spec.ts'
export type { AttemptRecord, Task, TaskStatus } from './task/task.ts'

import type { Resources } from '../task/spec.ts'

/** A task as the queue sees it. */
export interface QueuedTask {
  /** Task id (see `taskId`). */
  id: string
  /** Registered handler type that runs it. */
  type: string
  /** Integer priority in [MIN_PRIORITY, MAX_PRIORITY]; higher runs first. */
  priority: number
  /** What the task needs from the node that runs it. */
  resources: Resources
  /** When the task entered this node's queue, in ms (the clock passed to `pop`/`peek`). */
  enqueuedAt: number
  /** false for tasks held under a lease from another owner: they run here but are never granted onward */
  stealable: boolean
  /** Its shape key (see `shapeOf`), noted once when it is queued; computed from the task when absent. */
  shape?: string
}

/** What a node offers (from its config / its beacon). */
export interface NodeOffer {
  /** Handler types the node registered. */
  types: string[]
  /** Labels the node offers, e.g. `gpu`. */
  labels: string[]
  /** Concurrent slots. */
  slots: number
  /** Memory available to tasks, in MiB. */
  memoryMb: number
}

/** A peer's load as last seen in its capacity beacon. */
export interface PeerCapacity extends NodeOffer {
  peerId: string
  /** Tasks running now. */
  running: number
  /** stealable queued tasks */
  queued: number
  /** estimated ms of work in the stealable queue */
  queuedWorkMs: number
  /** Handler types of the stealable queued tasks, when the peer's beacon names them. */
  queuedTypes?: string[]
  /** measured speed factor, 1 = nominal */
  speed: number
  /** Local clock (ms) when the beacon was received. */
  updatedAt: number
}

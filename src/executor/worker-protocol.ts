import type { Json } from '../task/spec.ts'

/** One job for a pool worker: run handler `type` on `input`. Plain data, structured-cloned. */
export interface WorkerJob {
  type: string
  input: Json
  taskId: string
  attempt: number
  /** Outputs of the task's dependencies by task id. */
  dependencies: Record<string, Json>
  /** The node's speed factor. @defaultValue 1 */
  speed?: number
}

/** What the pool posts to piscina: the job plus the pool's sequence number for it. */
export interface WorkerEnvelope extends WorkerJob {
  seq: number
}

/**
 * Posted by a worker on its `parentPort` (piscina re-emits it as the pool's `message` event) the
 * moment it begins a job: the job's timeout clock starts then, not while a thread boots.
 */
export interface WorkerStartedMessage {
  taskmeshJobStarted: number
}

/**
 * A worker's answer. Failures travel as data rather than thrown errors, because structured
 * cloning keeps neither an error's class nor its `unrecoverable` flag.
 */
export type WorkerReply =
  | { ok: true; output: Json }
  | {
      ok: false
      error: string
      /** The top of the handler's stack trace, when it threw an error that has one. */
      stack?: string
      unrecoverable: boolean
      unknownType?: true
      invalidOutput?: true
    }

/** Piscina `workerData`: what every worker imports before taking jobs. */
export interface PoolWorkerData {
  /** `file:` URLs of the operator handler modules. */
  modules: string[]
}

import type { ResultRecord } from '../protocol/records/result-record.ts'
import type { CancelOutcome, StoryEvents, TaskStateReply } from '../protocol/rpc/submit-client.ts'

export type { CancelOutcome, StoryEvents, TaskStateReply } from '../protocol/rpc/submit-client.ts'

/** Options of {@link MeshClient.result}. */
export interface ResultOptions {
  /** Wait until the result exists (or `timeoutMs` passes) instead of polling once. @defaultValue false */
  wait?: boolean
  /**
   * With `wait`: how long to wait for the result (default 30 s). Without: the deadline of the one
   * poll (default 5 s).
   */
  timeoutMs?: number
  /** Ends the poll or the wait early (the result is then `undefined`). */
  signal?: AbortSignal
}

/**
 * What a program can ask of one node from outside it: the light client over the submit protocol
 * (`TaskmeshClient`) and the client of a daemon's local HTTP API (`HttpClient`) both offer it, so
 * the CLI works the same over either. A refusal rejects with a `RemoteError` carrying the node's
 * code; records are verified where the transport carries signatures.
 */
export interface MeshClient {
  /** Submits specs (or graph items); resolves with their ids in order — or nothing was queued. */
  submit(specs: unknown[]): Promise<string[]>
  /** A task's result record, or `undefined` when there is none (yet). */
  result(taskId: string, opts?: ResultOptions): Promise<ResultRecord | undefined>
  /** Yields each task's result once as it lands (until every one did, or `signal` aborts). */
  watch(taskIds: string[], signal?: AbortSignal): AsyncGenerator<ResultRecord, void, undefined>
  /** The node's status snapshot. */
  status(): Promise<Record<string, unknown>>
  /**
   * Cancels a task (the node forwards to its owner); `ERR_UNKNOWN_TASK` when no node knows it,
   * `ERR_OWNER_DOWN` when its owner is down and no node has taken it over yet (try again).
   */
  cancel(taskId: string): Promise<CancelOutcome>
  /** How a task stands (`waiting`, `queued`, `leased`, `running`, `unschedulable`, `done`, `unknown`). */
  state(taskId: string): Promise<TaskStateReply>
  /** The decisions the node took about a task, oldest first. */
  story(taskId: string): Promise<StoryEvents>
  /** Releases what the client holds (its libp2p host). Safe to call twice. */
  close(): Promise<void>
}

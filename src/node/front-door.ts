import type { ResultRecord } from '../protocol/records/result-record.ts'
import type { NodeStatus } from './node-status.ts'
import type { CancelResult, TaskState } from './owner/cancellation.ts'
import type { StoryEvent } from './story/story.ts'

/**
 * What a node's front doors — the local HTTP API (`HttpApi`) and the submit protocol
 * (`SubmitService`) — ask of the node: submit, read or wait for a result, cancel, the state and
 * story of a task, and the node's status. `TaskmeshNode` implements it; a front door depends on
 * nothing else of the node.
 */
export interface FrontDoor {
  /**
   * Validates and accepts a submission whole (specs or graph items), or refuses it with
   * `InvalidTaskError` / `UnknownHandlerError` / `QueueFullError` (nothing queued).
   * @param opts.submitter - who submitted (a client's peer id or name). @defaultValue the node itself
   */
  submitMany(specs: unknown[], opts?: { submitter?: string }): Promise<Array<{ id: string; key?: string }>>
  /**
   * Submits like {@link submitMany}, then waits for each result until `signal` aborts (null for
   * one that had none by then). Answers as soon as every result is in, even before the journal's
   * sync and the custodians' acknowledgement (the work is done; both go on); otherwise after them.
   */
  submitAndWait(
    specs: unknown[],
    opts: { submitter?: string; signal: AbortSignal },
  ): Promise<{ handles: Array<{ id: string; key?: string }>; results: Array<ResultRecord | null> }>
  /** One poll: the record if known here or found in the DHT before `signal` aborts. */
  getResult(id: string, opts?: { signal?: AbortSignal }): Promise<ResultRecord | undefined>
  /** Resolves with the task's record as soon as it lands here; rejects when `signal` aborts. */
  waitResult(id: string, signal?: AbortSignal): Promise<ResultRecord>
  /** The signed record value (what the DHT stores), after one poll or a wait. */
  signedResult(id: string, opts: { wait: boolean; signal?: AbortSignal }): Promise<Uint8Array | undefined>
  /**
   * Cancels a task (forwarding to its owner unless `forwarded`; to the node that took it over when
   * the owner cannot be reached). @throws UnknownTaskError, OwnerDownError
   */
  cancel(id: string, opts?: { forwarded?: boolean }): Promise<CancelResult>
  /** How a task stands (asking its owner unless `forwarded`). */
  taskState(id: string, opts?: { forwarded?: boolean }): Promise<TaskState>
  /** The decisions this node took about a task, oldest first. */
  story(id: string): StoryEvent[]
  /** A snapshot of the node and the peers it hears from. */
  status(): NodeStatus
}

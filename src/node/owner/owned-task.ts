import type { ReleaseReply } from '../../protocol/messages/messages.ts'
import type { RunEntry } from '../run/task-runner.ts'

/** How a task stands at its owner. */
export type OwnedState = 'queued' | 'leased' | 'running' | 'retrying'

/** How a task came to be owned here. */
export type Ownership = 'submitted' | 'adopted' | 'replayed'

/** A task this node owns and has no result for yet. */
export interface OwnedTask {
  readonly entry: RunEntry
  state: OwnedState
  /**
   * Epochs below this were allocated before this node took the task over (by the task's earlier
   * owner, or by this node before a restart); 0 for a task submitted here.
   */
  readonly floor: number
  /**
   * When the current lease was granted, or the owner's own run began, on `monotonicNow` (a run cut
   * short is dated from it).
   */
  since?: number
}

/** What a release asks of the node: failed attempts to retry after a backoff, tasks to end as failed. */
export interface Released {
  reply: ReleaseReply
  /** Owned tasks whose holder's attempt failed and that have attempts left: retry after a backoff. */
  retries: RunEntry[]
  /** Owned tasks whose holder's attempt failed with no attempt left: end as failed. */
  failed: Poisoned[]
}

/** A task that lost too many executors: its owner publishes `entry` as failed with `error`. */
export interface Poisoned {
  entry: RunEntry
  error: string
}

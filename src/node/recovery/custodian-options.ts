import type { CustodianRef } from '../../protocol/messages/custody-messages.ts'
import type { Task } from '../../task/task.ts'
import type { Takeover } from '../owner/intake.ts'
import type { OwnerLedger } from '../owner/owner-ledger.ts'
import type { LivenessWatch } from '../peers/liveness-watch.ts'
import type { BatchLookup } from '../results/batch-lookup.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { Thief } from '../thief/thief.ts'
import type { AskKnown } from './successor-check.ts'

/** Tasks of other owners one node guards at most (past it, the oldest of the owner with the most go first). */
export const DEFAULT_CUSTODY_MEMORY = 100_000

/**
 * Bytes of other owners' tasks one node guards at most (as the `hold` frames brought them): a
 * member holding tasks of large inputs grew a custodian from 300 to 971 MB in 12 s under the
 * count alone (100,000 tasks of up to 256 KiB each). Past it, as past the count.
 */
export const DEFAULT_CUSTODY_BYTES = 256 * 1024 * 1024

/** Options of {@link Custodian}. */
export interface CustodianOptions {
  /** This node's peer id. */
  self: string
  /** Which peers are alive. */
  liveness: Pick<LivenessWatch, 'isDead' | 'live'>
  /** Tells whether the node owns a task already; its journal is written before custody is handed on. */
  ledger: Pick<OwnerLedger, 'has' | 'journalled'>
  /** Takes an orphan into ownership. */
  own(task: Task, how: Takeover): boolean
  /** Tasks this node holds under a lease are running here already: never adopted. */
  thief: Pick<Thief, 'holds'>
  /** Results known here, or in the DHT. */
  results: Pick<ResultStore, 'cached' | 'get'>
  /** Looks many tasks up at once at the peers closest to their keys (before any DHT lookup). */
  batch?: Pick<BatchLookup, 'lookUp'>
  /** Hands the tasks this node adopted to its own custodians. */
  hold(tasks: Task[]): Promise<void>
  /** True for the owners whose tasks this node takes into its hands (see `ownerFilter`). @defaultValue every owner */
  admits?(owner: string): boolean
  /** Keeps in touch with another custodian of the same owner (so each can judge the other alive). */
  meet?(custodian: CustodianRef): void
  /** Asks another custodian which of a dead owner's tasks it knows (see `checkSuccessors`). */
  ask?: AskKnown
  /** A peer silent this long is declared dead, ms (the period of sweeps while orphans remain). */
  failureDetectionMs: number
  /** Tasks were adopted; `why` tells, per task id, what the DHT lookup found. */
  onAdopted(tasks: Task[], why: Map<string, string>): void
  /** @defaultValue DEFAULT_CUSTODY_MEMORY */
  memory?: number
  /** @defaultValue DEFAULT_CUSTODY_BYTES */
  memoryBytes?: number
}

import type { AccountingSnapshot } from './accounting/accounting.ts'
import type { NodeCounters } from './node-counters.ts'

/** A snapshot of a node for `taskmesh status`. */
export interface NodeStatus {
  peerId: string
  addresses: string[]
  slots: number
  running: number
  queued: number
  stealable: number
  leasedOut: number
  leasedIn: number
  expectedWaitMs: number
  types: string[]
  labels: string[]
  peers: Array<{
    peerId: string
    slots: number
    running: number
    queued: number
    expectedWaitMs: number
    types: string[]
    labels: string[]
    ageMs: number
  }>
  counters: NodeCounters
  /** Tasks this node owns that wait for their dependencies (not queued yet). */
  waiting: number
  /** Owned queued tasks no live node can run, with one reason per node considered. */
  unschedulable: Array<{ id: string; reasons: string[]; since: number }>
  /**
   * Inbound steal and submit requests still being received: their bytes held now, the streams
   * receiving them, and the streams aborted so far to keep within `maxInboundRequestBytes`.
   */
  inbound: { bytes: number; streams: number; evictions: number }
  /** What the node's work cost it since it started: messages, bytes, signatures, datastore and journal calls. */
  accounting: AccountingSnapshot
}

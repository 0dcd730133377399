/** Counters a node keeps about its own work. */
export interface NodeCounters {
  accepted: number
  executed: number
  retried: number
  stealRequests: number
  stealsGranted: number
  tasksStolen: number
  tasksGranted: number
  /** Tasks this node offered to idle peers (steal 1.1), whether they took them or not. */
  tasksOffered: number
  /** Offers of other owners this node took at least one task of. */
  offersTaken: number
  leasesExpired: number
  staleCompletions: number
  /** Leases taken back because they expired or their holder was declared dead. */
  executorsLost: number
  /** Tasks ended as failed after losing too many executors. */
  poisoned: number
  /** Tasks taken over from an owner declared dead. */
  adopted: number
  /** Journalled tasks requeued at start. */
  replayed: number
}

/** Counters of a node that has done nothing yet. */
export function createNodeCounters(): NodeCounters {
  return {
    accepted: 0,
    executed: 0,
    retried: 0,
    stealRequests: 0,
    stealsGranted: 0,
    tasksStolen: 0,
    tasksGranted: 0,
    tasksOffered: 0,
    offersTaken: 0,
    leasesExpired: 0,
    staleCompletions: 0,
    executorsLost: 0,
    poisoned: 0,
    adopted: 0,
    replayed: 0,
  }
}

import { canRun, type TaskNeed, unmetNeeds } from './capacity.ts'
import type { NodeOffer } from './types.ts'

/** Whether any live node can run a task, and if not, why not, node by node. */
export interface Schedulability {
  runnable: boolean
  /** One line per node considered, e.g. `12D3…abcd: label "gpu" missing`; empty when runnable. */
  reasons: string[]
}

/**
 * Judges a queued task against this node's offer and every live peer's (from their beacons).
 * A task no one can run is reported `unschedulable` with these reasons, never silently stuck; it
 * becomes runnable again as soon as a capable node's beacon arrives.
 */
export function schedulability(
  need: TaskNeed,
  self: { id: string; offer: NodeOffer },
  peers: Array<NodeOffer & { peerId: string }>,
): Schedulability {
  if (canRun(self.offer, need) || peers.some((p) => canRun(p, need))) return { runnable: true, reasons: [] }
  const reasons = [
    `${self.id} (this node): ${unmetNeeds(self.offer, need).join(', ')}`,
    ...peers.map((p) => `${p.peerId}: ${unmetNeeds(p, need).join(', ')}`),
  ]
  return { runnable: false, reasons }
}

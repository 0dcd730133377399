import { expectedWaitMs } from '../../policy/capacity.ts'
import type { PeerCapacity } from '../../policy/types.ts'

/** How this node knows of a node in its mesh view. */
export type HeardFrom = 'self' | 'neighbour' | 'hot-list'

/** One node of the mesh as this node knows it: its capacity and load. */
export interface MeshNode {
  peerId: string
  /** `self`; `neighbour`: its own beacons; `hot-list`: named as loaded in a neighbour's beacon. */
  heard: HeardFrom
  slots: number
  running: number
  /** Queued tasks it offers to thieves (its beacon's count). */
  queued: number
  /** Expected wait of a task queued there now, ms (queued work / (slots × speed)). */
  expectedWaitMs: number
  /** Running tasks per slot (0 idle, 1 every slot busy). */
  load: number
  speed: number
  types: string[]
  labels: string[]
  /** How old the news is, ms (0 for this node). */
  ageMs: number
}

/** Every node this node hears of, itself first, then the most loaded first. */
export interface MeshView {
  self: string
  /** Unix ms of the snapshot. */
  at: number
  nodes: MeshNode[]
}

/** Builds a {@link MeshView} from this node's own load and the peers its beacons tell of. */
export function meshView(
  self: PeerCapacity,
  peers: Array<PeerCapacity & { direct: boolean }>,
  now = Date.now(),
): MeshView {
  const row = (p: PeerCapacity, heard: HeardFrom): MeshNode => ({
    peerId: p.peerId,
    heard,
    slots: p.slots,
    running: p.running,
    queued: p.queued,
    expectedWaitMs: Math.round(expectedWaitMs(p)),
    load: p.slots > 0 ? Math.round((p.running / p.slots) * 100) / 100 : 0,
    speed: p.speed,
    types: p.types,
    labels: p.labels,
    ageMs: heard === 'self' ? 0 : Math.max(0, now - p.updatedAt),
  })
  const others = peers
    .map((p) => row(p, p.direct ? 'neighbour' : 'hot-list'))
    .sort((a, b) => b.expectedWaitMs - a.expectedWaitMs || b.load - a.load || (a.peerId < b.peerId ? -1 : 1))
  return { self: self.peerId, at: now, nodes: [row(self, 'self'), ...others] }
}

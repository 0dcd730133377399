import type { PeerCapacity } from '../policy/types.ts'
import type { Beacon } from '../protocol/messages.ts'

/** The latest capacity beacon of every peer this node hears from. */
export class PeerView {
  private readonly peers = new Map<string, PeerCapacity & { seq: number }>()

  /** Records a beacon; an older or repeated `seq` changes nothing. Returns true when it was news. */
  update(peerId: string, beacon: Beacon, now: number): boolean {
    const prev = this.peers.get(peerId)
    if (prev !== undefined && prev.seq >= beacon.seq) return false
    this.peers.set(peerId, {
      peerId,
      seq: beacon.seq,
      slots: beacon.slots,
      running: beacon.running,
      queued: beacon.queued,
      queuedWorkMs: beacon.queuedWorkMs,
      speed: beacon.speed,
      types: beacon.types,
      labels: beacon.labels,
      memoryMb: beacon.memoryMb,
      updatedAt: now,
    })
    return true
  }

  /** Forgets a peer (disconnected or silent). */
  remove(peerId: string): void {
    this.peers.delete(peerId)
  }

  get(peerId: string): PeerCapacity | undefined {
    return this.peers.get(peerId)
  }

  /** Every known peer's capacity. */
  list(): PeerCapacity[] {
    return [...this.peers.values()]
  }

  /** True when some peer advertises handler `type`. */
  offersType(type: string): boolean {
    for (const p of this.peers.values()) if (p.types.includes(type)) return true
    return false
  }

  get size(): number {
    return this.peers.size
  }
}

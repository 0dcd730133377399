import type { PeerCapacity } from '../../policy/types.ts'
import type { Beacon } from '../../protocol/messages.ts'

/** The latest capacity beacon of every peer this node hears from. */
export class PeerView {
  private readonly peers = new Map<string, PeerCapacity & { seq: number }>()
  private readonly waiters = new Set<() => void>()

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
    for (const waiter of this.waiters) waiter()
    return true
  }

  /** Resolves once beacons from at least `count` peers were heard; rejects when `signal` aborts first. */
  waitForSize(count: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.peers.size < count) return
        this.waiters.delete(check)
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = () => {
        this.waiters.delete(check)
        reject(new Error(`heard ${this.peers.size} of ${count} peers before the deadline`))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiters.add(check)
      check()
    })
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

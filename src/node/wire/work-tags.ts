import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { monotonicNow } from '../../util/clock.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'

/** Tag name of a peer this node has work with (leases either way, custody). */
export const WORK_TAG = 'taskmesh-work'
/** How long a work tag lasts after the last exchange, ms. */
export const WORK_TAG_TTL_MS = 120_000
/** A peer's tag is refreshed at most this often, ms (each refresh writes the peer store). */
const REFRESH_MS = 30_000

/**
 * Marks the connections that carry work — steal sessions, custody — as the most valuable, so that a
 * node over its connection limit closes idle neighbours first, never the connection to the owner
 * of a lease it holds or to a custodian of its tasks. Tags expire on their own once the work stops.
 */
export class WorkTags {
  private readonly tagged = new Map<string, number>()

  constructor(private readonly libp2p: Pick<MeshLibp2p, 'peerStore'>) {}

  /** Tags (or refreshes the tag of) a peer this node just exchanged work with. Never throws. */
  touch(peer: PeerId | string): void {
    const id = peer.toString()
    const now = monotonicNow()
    const last = this.tagged.get(id)
    if (last !== undefined && now - last < REFRESH_MS) return
    this.tagged.set(id, now)
    if (this.tagged.size > 10_000) this.forgetOld(now)
    const peerId = typeof peer === 'string' ? peerIdFromString(peer) : peer
    this.libp2p.peerStore
      .merge(peerId, { tags: { [WORK_TAG]: { value: 100, ttl: WORK_TAG_TTL_MS } } })
      .catch(() => this.tagged.delete(id))
  }

  private forgetOld(now: number): void {
    for (const [id, at] of this.tagged) if (now - at >= WORK_TAG_TTL_MS) this.tagged.delete(id)
  }
}

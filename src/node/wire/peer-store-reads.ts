import type { Peer, PeerData, PeerId, PeerStore } from '@libp2p/interface'
import { monotonicNow } from '../../util/clock.ts'
import { trimOldest } from '../../util/trim-oldest.ts'

/** How long a peer read is served from memory at most, ms. */
export const PEER_READ_TTL_MS = 2_000
/**
 * A merge that adds nothing is still made when the peer's last write is this old, ms: it refreshes
 * the addresses' `observed` times (libp2p drops an address unseen for an hour) and the entry's age.
 */
export const PEER_REFRESH_MS = 60_000
/** Peers whose last read and last write are remembered at most. */
export const PEER_READS_KEPT = 4_096

/** The peer-store methods that write a peer's entry (`consumePeerRecord` writes through `patch`). */
const WRITES = ['save', 'patch', 'merge', 'delete'] as const

/** What the wrapper counts: reads served from memory, merges found to add nothing. */
export interface PeerStoreSavings {
  readsFromMemory: number
  mergesSkipped: number
}

interface Held {
  peer: Peer
  at: number
}

/** True when merging `data` into `peer` would change nothing but its timestamps. */
export function mergeAddsNothing(peer: Peer, data: PeerData): boolean {
  for (const key of Object.keys(data) as Array<keyof PeerData>) {
    if (data[key] === undefined) continue
    if (key !== 'multiaddrs' && key !== 'protocols') return false
  }
  if (data.protocols?.some((p) => !peer.protocols.includes(p)) === true) return false
  if (data.multiaddrs === undefined || data.multiaddrs.length === 0) return true
  const known = new Set(peer.addresses.map((a) => a.multiaddr.toString()))
  return data.multiaddrs.every((ma) => known.has(ma.toString()))
}

/**
 * Makes libp2p's peer store cheap to read and to merge into again. Each call of the store takes a
 * per-peer lock (a `mortice` with its own queue, made and finalized per call), reads the entry and
 * decodes it, and a merge encodes and compares it too; kad-dht reads the 20 peers closest to a key
 * at each lookup it starts and each request it answers, and merges every peer each response names
 * — 224 reads and 240 merges a lookup in a mesh of 16, ~100 ms of CPU (`npx tsx
 * scripts/read-cost-mesh.ts`). Here:
 * - `get` (and `getInfo` through it) is served from memory for {@link PEER_READ_TTL_MS}; every
 *   write of the peer drops what was read of it, before and after, and a read that overlapped a
 *   write of its peer is not kept;
 * - a `merge` of only addresses and protocols the peer already has is not made, unless the peer's
 *   last write is {@link PEER_REFRESH_MS} old (its addresses' ages are refreshed as before).
 * The peer objects handed out are shared between callers: libp2p and taskmesh read them only.
 */
export function economizePeerStore(
  store: PeerStore,
  ttlMs = PEER_READ_TTL_MS,
  refreshMs = PEER_REFRESH_MS,
  kept = PEER_READS_KEPT,
): PeerStoreSavings {
  const savings: PeerStoreSavings = { readsFromMemory: 0, mergesSkipped: 0 }
  const held = new Map<string, Held>()
  /** Per peer, the number of its last write begun or ended, and when it ended. */
  const written = new Map<string, { seq: number; at: number }>()
  let writes = 0
  const drop = (id: string, at: number) => {
    held.delete(id)
    written.delete(id) // re-inserted last: the oldest go first
    written.set(id, { seq: ++writes, at })
    trimOldest(written, kept)
  }
  const read = store.get.bind(store)
  store.get = async (peerId, options) => {
    const id = peerId.toString()
    const now = monotonicNow()
    const hit = held.get(id)
    if (hit !== undefined && now - hit.at < ttlMs) {
      savings.readsFromMemory++
      return hit.peer
    }
    const before = written.get(id)?.seq
    const peer = await read(peerId, options)
    if (written.get(id)?.seq === before) {
      held.delete(id)
      held.set(id, { peer, at: now })
      trimOldest(held, kept)
    }
    return peer
  }
  const writers = Object.fromEntries(
    WRITES.map((name) => {
      const write = (store[name] as (peerId: PeerId, ...rest: unknown[]) => Promise<unknown>).bind(store)
      const wrapped = async (peerId: PeerId, ...rest: unknown[]) => {
        const id = peerId.toString()
        drop(id, written.get(id)?.at ?? 0)
        try {
          return await write(peerId, ...rest)
        } finally {
          drop(id, monotonicNow())
        }
      }
      return [name, wrapped]
    }),
  ) as Record<(typeof WRITES)[number], (peerId: PeerId, ...rest: unknown[]) => Promise<unknown>>
  Object.assign(store, writers)
  store.merge = async (peerId, data, options) => {
    const last = written.get(peerId.toString())
    if (last !== undefined && monotonicNow() - last.at < refreshMs) {
      const peer = await store.get(peerId, options).catch(() => undefined)
      if (peer !== undefined && mergeAddsNothing(peer, data)) {
        savings.mergesSkipped++
        return peer
      }
    }
    return (await writers.merge(peerId, data, options)) as Peer
  }
  return savings
}

import type { PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'

/** The part of kad-dht's routing table that decides when a contact must be pinged. */
interface KBucketLike {
  lastPingThreshold?: number
}

/**
 * Stops kad-dht from dialling every peer it hears of to check it is alive before adding it to its
 * routing table. kad-dht pings each new contact a lookup's answers name (and each old contact of a
 * full bucket), and a ping to a peer with no connection dials one: in a 100-node mesh every node
 * heard of nearly every other within seconds of forming and dialled them all (≈ 7 dials per node
 * in a mesh of 20, most of the connections beyond each node's neighbours), which undid the bounded
 * degree and made forming the mesh take minutes of CPU. Liveness is taskmesh's business (beacons,
 * probes); a dead contact costs a lookup one failed dial, which kad-dht handles. kad-dht 16 takes
 * no option for it (`lastPingThreshold` is not passed through), so it is set on its routing table;
 * a kad-dht without that field is left as it is.
 */
export function skipContactPings(dht: KadDHT): void {
  const table = (dht as unknown as { routingTable?: { kb?: KBucketLike } }).routingTable
  const kb = table?.kb
  if (kb !== undefined && typeof kb.lastPingThreshold === 'number') {
    kb.lastPingThreshold = Number.POSITIVE_INFINITY
  }
}

/** The part of kad-dht's routing table that ranks its contacts by distance to an id. */
interface ClosestLike {
  closestPeers?: (kadId: Uint8Array, options?: { count?: number }) => PeerId[]
}

/**
 * The `count` contacts of kad-dht's routing table closest to kad id `target`: the peers a lookup of
 * that id would ask first. kad-dht 16 keeps `closestPeers` off its public interface; a kad-dht
 * without it gives `undefined` (the caller then knows nothing of what a lookup would ask).
 */
export function routingTableClosest(dht: KadDHT, target: Uint8Array, count: number): PeerId[] | undefined {
  const table = (dht as unknown as { routingTable?: ClosestLike }).routingTable
  if (typeof table?.closestPeers !== 'function') return undefined
  return table.closestPeers(target, { count })
}

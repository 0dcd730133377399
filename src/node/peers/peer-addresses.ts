import type { IdentifyResult } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { MAX_HOT_ADDRS } from '../../protocol/constants.ts'
import { trimOldest } from '../../util/trim-oldest.ts'
import type { MeshLibp2p } from '../wire/libp2p-factory.ts'

/** Peers whose listen addresses are remembered at most (the least recently identified go first). */
export const PEER_ADDRESSES_KEPT = 1_000

/**
 * Where peers listen, as identify told this node (not the ephemeral ports their connections come
 * from): what a beacon's hot list and a custody frame pass on, so that nodes that are not connected
 * to a peer can dial it. Synchronous to read; fed by `peer:identify`.
 */
export class PeerAddresses {
  private readonly addrs = new Map<string, string[]>()

  constructor(
    private readonly libp2p: Pick<
      MeshLibp2p,
      'addEventListener' | 'removeEventListener' | 'getMultiaddrs' | 'peerId'
    >,
  ) {}

  start(): void {
    this.libp2p.addEventListener('peer:identify', this.onIdentify)
  }

  stop(): void {
    this.libp2p.removeEventListener('peer:identify', this.onIdentify)
  }

  /** Where `peer` listens (this node's own addresses for itself), at most `MAX_HOT_ADDRS`. */
  of(peer: string): string[] {
    if (peer === this.libp2p.peerId.toString()) {
      return this.libp2p
        .getMultiaddrs()
        .map((a) => a.decapsulateCode(421).toString())
        .slice(0, MAX_HOT_ADDRS)
    }
    return this.addrs.get(peer) ?? []
  }

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const id = evt.detail.peerId.toString()
    const addrs = evt.detail.listenAddrs.map((a) => a.decapsulateCode(421).toString()).slice(0, MAX_HOT_ADDRS)
    this.addrs.delete(id)
    if (addrs.length === 0) return
    this.addrs.set(id, addrs)
    trimOldest(this.addrs, PEER_ADDRESSES_KEPT)
  }
}

/** Puts the addresses a hot list gave for `peer` into the peer store when it is not connected. */
export async function reachable(libp2p: MeshLibp2p, peer: string, addrs: string[]): Promise<void> {
  if (addrs.length === 0) return
  const id = peerIdFromString(peer)
  if (libp2p.getConnections(id).length > 0) return
  await libp2p.peerStore.merge(id, { multiaddrs: addrs.map((a) => multiaddr(a)) }).catch(() => undefined)
}

import type { ConnectionGater, PeerId } from '@libp2p/interface'
import { canonicalPeerIds } from '../option-checks.ts'

/** What the deny list needs of the libp2p host: the connections it holds to a peer. */
export interface DenyHost {
  getConnections(peer?: PeerId): Array<{ remotePeer: PeerId; abort(err: Error): void }>
}

/**
 * The peers a node refuses to connect with (`denyPeers`): it dials none of them and refuses their
 * connections once it knows who is at the other end (after encryption, where the peer id is
 * proven). Replacing the list cuts every open connection to a newly denied peer at once — as a
 * firewall rule would, not a polite close — so both sides take it for a network cut (see
 * ARCHITECTURE.md). Peers taken off the list are not dialled by it: the mesh finds them again as
 * after any cut. A gossip message it signed is ignored when others relay it (`MeshGossip`); what
 * others publish about its work (relayed notices naming it, copies of its records) still arrives
 * through them, signed and checked as anything else.
 */
export class DenyList {
  private peers: ReadonlySet<string>
  private host: DenyHost | undefined

  constructor(peers: readonly string[] = []) {
    this.peers = new Set(peers)
  }

  /** True when `peer` (a peer id string) is denied. */
  has(peer: string): boolean {
    return this.peers.has(peer)
  }

  /** How many peers are denied. */
  get size(): number {
    return this.peers.size
  }

  /** The host whose connections a replaced list cuts (set once libp2p exists). */
  attach(host: DenyHost): void {
    this.host = host
  }

  /**
   * Replaces the list; cuts the open connections to peers now denied.
   * @returns how many connections were cut
   * @throws InvalidTaskError naming (`denyPeers[i]`) an entry that is not a peer id; the list stays
   */
  replace(peers: readonly string[]): number {
    this.peers = new Set(canonicalPeerIds(peers, 'denyPeers'))
    let cut = 0
    for (const conn of this.host?.getConnections() ?? []) {
      if (!this.peers.has(conn.remotePeer.toString())) continue
      conn.abort(new Error('peer denied'))
      cut++
    }
    return cut
  }

  /** The gater libp2p consults: this list first, then `inner` (another rule of the node's). */
  gater(inner: ConnectionGater = {}): ConnectionGater {
    const denied = (peer: PeerId) => this.peers.has(peer.toString())
    return {
      ...inner,
      denyDialPeer: (peer) => denied(peer) || (inner.denyDialPeer?.(peer) ?? false),
      denyInboundEncryptedConnection: (peer, conn) =>
        denied(peer) || (inner.denyInboundEncryptedConnection?.(peer, conn) ?? false),
      denyOutboundEncryptedConnection: (peer, conn) =>
        denied(peer) || (inner.denyOutboundEncryptedConnection?.(peer, conn) ?? false),
    }
  }
}

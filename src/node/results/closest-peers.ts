import type { IdentifyResult, PeerId } from '@libp2p/interface'
import { SHORT_ID_CHARS } from '../../protocol/messages/replicate-messages.ts'
import { monotonicNow } from '../../util/clock.ts'
import { sha256 } from '../../util/sha256.ts'
import type { MeshLibp2p } from '../wire/libp2p-factory.ts'

/** kad-dht's id of a key or peer: SHA-256 of the bytes (kad's `convertBuffer`). */
export function kadId(bytes: Uint8Array): Uint8Array {
  return sha256(bytes)
}

/** True when id `a` is strictly closer to `target` than id `b` (Kademlia XOR), with no distance built. */
export function isCloser(a: Uint8Array, b: Uint8Array, target: Uint8Array): boolean {
  for (let i = 0; i < target.length; i++) {
    const da = a[i] ^ target[i]
    const db = b[i] ^ target[i]
    if (da !== db) return da < db
  }
  return false
}

/**
 * How long the serving peers are kept while a connected peer does not serve the protocol, ms: it
 * may yet (its identify not seen); until then each record read the connections and the peer store
 * again, while a light client was connected.
 */
export const NOT_SERVING_RECHECK_MS = 1_000

/** What {@link ClosestPeers.closerThanSelfNow} answers when the serving peers must be read first. */
export const SERVING_UNKNOWN = Symbol('serving peers unknown')

/**
 * The connected peers that serve a protocol, ranked by Kademlia distance to a key — where a record
 * of that key belongs. Which protocols a peer serves comes from the peer store (identify), cached
 * until the peer disconnects or identify tells otherwise. In a mesh where every peer is connected,
 * the closest connected peers are the closest a lookup would find; in a mesh of bounded degree,
 * {@link closerThanSelf} tells where a record goes next on its way to them.
 *
 * The protocols a peer serves change only when it identifies (again): the cache follows
 * `peer:identify`, and callers that ask about one peer at once share one peer-store read. (It
 * followed `peer:update`, which fires at every change of a peer's entry: a burst of records re-read
 * the peer store about once per record, 3 % of a busy node's time.)
 */
export class ClosestPeers {
  /** Whether a connected peer serves the protocol (entries removed when it disconnects). */
  private readonly speaks = new Map<string, boolean>()
  /** Peer-store reads under way, by peer. */
  private readonly reading = new Map<string, Promise<boolean>>()
  /** kad-dht ids (SHA-256 of the multihash) of connected peers. */
  private readonly ids = new Map<string, Uint8Array>()
  /** Short ids (see {@link shortId}) of connected peers, made once per peer: every copy names some. */
  private readonly shortIds = new Map<string, string>()
  /** This node's kad-dht id. */
  private readonly selfId: Uint8Array
  /**
   * The connected peers that serve the protocol, once each connected peer's answer is known:
   * ranking then reads neither the connections nor the peer store. Forgotten at every connection
   * opened or closed and every identify, and — when some connected peer does not serve it (a light
   * client) — after {@link NOT_SERVING_RECHECK_MS}: such a peer's answer is read again then.
   */
  private allServing: PeerId[] | undefined
  /** When {@link allServing} is read again (never, while every connected peer serves). */
  private servingUntil = Number.POSITIVE_INFINITY
  /** Counts those changes: a list read before one is not kept. */
  private changes = 0

  constructor(
    private readonly libp2p: MeshLibp2p,
    private readonly protocol: string,
  ) {
    this.selfId = kadId(libp2p.peerId.toMultihash().bytes)
    libp2p.addEventListener('peer:identify', this.onIdentify)
    libp2p.addEventListener('peer:disconnect', this.onPeerDisconnect)
    libp2p.addEventListener('connection:open', this.forgetServing)
    libp2p.addEventListener('connection:close', this.forgetServing)
  }

  /** Stops listening to libp2p. Safe to call twice. */
  stop(): void {
    this.libp2p.removeEventListener('peer:identify', this.onIdentify)
    this.libp2p.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    this.libp2p.removeEventListener('connection:open', this.forgetServing)
    this.libp2p.removeEventListener('connection:close', this.forgetServing)
    this.forgetServing()
    this.speaks.clear()
    this.ids.clear()
    this.shortIds.clear()
  }

  /** The `count` connected peers serving the protocol that are closest to `key`, closest first. */
  async of(key: Uint8Array, count: number): Promise<PeerId[]> {
    return this.nearest(this.known() ?? (await this.servingPeers()), kadId(key), count)
  }

  /**
   * {@link of} answered at once, when the serving peers are known (nearly always: they are read
   * again only after a connection opened or closed); else {@link SERVING_UNKNOWN}.
   */
  ofNow(key: Uint8Array, count: number): PeerId[] | typeof SERVING_UNKNOWN {
    const peers = this.known()
    return peers === undefined ? SERVING_UNKNOWN : this.nearest(peers, kadId(key), count)
  }

  /** The `count` of `peers` closest to kad-dht id `target`, closest first. */
  private nearest(peers: readonly PeerId[], target: Uint8Array, count: number): PeerId[] {
    // each peer goes into its place among the closest so far (no distances built, nothing sorted:
    // called for every record kept, over a handful of peers)
    const best: PeerId[] = []
    const bestIds: Uint8Array[] = []
    for (const peer of peers) {
      const id = this.idOf(peer)
      let at = best.length
      while (at > 0 && isCloser(id, bestIds[at - 1], target)) at--
      if (at >= count) continue
      best.splice(at, 0, peer)
      bestIds.splice(at, 0, id)
      if (best.length > count) {
        best.pop()
        bestIds.pop()
      }
    }
    return best
  }

  /**
   * Where a record this node keeps goes next for its copies to end at the key's closest peers of
   * the whole mesh (greedy routing over connections): the connected peer serving the protocol
   * closest to `key` that is closer to it than this node, is not `except` and is not among `holders`
   * (short ids of peers known to hold the record already: in a complete mesh, every closer peer).
   */
  async closerThanSelf(
    key: Uint8Array,
    except: string,
    holders: readonly string[] = [],
  ): Promise<PeerId | undefined> {
    return this.closerAmong(this.known() ?? (await this.servingPeers()), key, except, holders)
  }

  /**
   * {@link closerThanSelf} answered at once when the serving peers are known (nearly always: each
   * record kept asks, and in a complete mesh the answer is none), else {@link SERVING_UNKNOWN}.
   */
  closerThanSelfNow(
    key: Uint8Array,
    except: string,
    holders: readonly string[] = [],
  ): PeerId | undefined | typeof SERVING_UNKNOWN {
    const peers = this.known()
    return peers === undefined ? SERVING_UNKNOWN : this.closerAmong(peers, key, except, holders)
  }

  private closerAmong(
    peers: readonly PeerId[],
    key: Uint8Array,
    except: string,
    holders: readonly string[],
  ): PeerId | undefined {
    // the closest peer that may take it, if closer than this node (one pass, no distances built);
    // the key's kad-dht id is hashed only when some peer may take it (in a small mesh, often none)
    let target: Uint8Array | undefined
    let best: PeerId | undefined
    let bestId = this.selfId
    for (const peer of peers) {
      if (peer.toString() === except || holders.includes(this.shortId(peer))) continue
      target ??= kadId(key)
      const id = this.idOf(peer)
      if (!isCloser(id, bestId, target)) continue
      best = peer
      bestId = id
    }
    return best
  }

  /** A connected peer's short id: the first `SHORT_ID_CHARS` hex characters of its kad-dht id. */
  shortId(peer: PeerId): string {
    const id = peer.toString()
    let short = this.shortIds.get(id)
    if (short === undefined) {
      short = Buffer.from(this.idOf(peer).subarray(0, SHORT_ID_CHARS / 2)).toString('hex')
      this.shortIds.set(id, short)
    }
    return short
  }

  /** The serving peers kept (see {@link allServing}), unless due to be read again. */
  private known(): PeerId[] | undefined {
    const peers = this.allServing
    if (peers === undefined || this.servingUntil === Number.POSITIVE_INFINITY) return peers
    if (monotonicNow() < this.servingUntil) return peers
    this.allServing = undefined
    return undefined
  }

  /** The connected peers that serve the protocol (kept: see {@link allServing}). */
  private async servingPeers(): Promise<PeerId[]> {
    const before = this.changes
    // connections keep their peer ids (and the ids' strings); getPeers() makes new ones each call
    const byId = new Map<string, PeerId>()
    for (const conn of this.libp2p.getConnections()) byId.set(conn.remotePeer.toString(), conn.remotePeer)
    const peers = [...byId.values()]
    const serving = await Promise.all(peers.map((peer) => this.serves(peer)))
    const all = serving.every(Boolean)
    const list = all ? peers : peers.filter((_, i) => serving[i])
    if (this.changes === before) {
      this.allServing = list
      this.servingUntil = all ? Number.POSITIVE_INFINITY : monotonicNow() + NOT_SERVING_RECHECK_MS
    }
    return list
  }

  private serves(peer: PeerId): Promise<boolean> | boolean {
    const id = peer.toString()
    // a peer not (yet) known to serve it is read again: its identify push may not have been seen
    if (this.speaks.get(id) === true) return true
    let read = this.reading.get(id)
    if (read === undefined) {
      this.speaks.delete(id)
      read = this.read(peer, id)
      this.reading.set(id, read)
    }
    return read
  }

  private async read(peer: PeerId, id: string): Promise<boolean> {
    let protocols: string[] = []
    try {
      protocols = (await this.libp2p.peerStore.get(peer)).protocols
    } catch {
      // not in the peer store yet: identify will tell (see onIdentify)
    } finally {
      this.reading.delete(id)
    }
    // an identify that arrived meanwhile is newer than what was read
    if (!this.speaks.has(id)) this.speaks.set(id, protocols.includes(this.protocol))
    return this.speaks.get(id) === true
  }

  private idOf(peer: PeerId): Uint8Array {
    const id = peer.toString()
    let hash = this.ids.get(id)
    if (hash === undefined) {
      hash = kadId(peer.toMultihash().bytes)
      this.ids.set(id, hash)
    }
    return hash
  }

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    this.forgetServing()
    this.speaks.set(evt.detail.peerId.toString(), evt.detail.protocols.includes(this.protocol))
  }

  /** A connection opened or closed, a peer identified or left: the serving list is read again. */
  private readonly forgetServing = (): void => {
    this.changes++
    this.allServing = undefined
  }

  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.forgetServing()
    const id = evt.detail.toString()
    this.speaks.delete(id)
    this.ids.delete(id)
    this.shortIds.delete(id)
  }
}

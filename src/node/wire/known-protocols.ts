import type { Libp2p, Peer, PeerId, PeerStore, PeerUpdate } from '@libp2p/interface'

type Merge = PeerStore['merge']

/**
 * Answers libp2p's per-stream peer-store merge from memory when it would change nothing.
 *
 * libp2p records the protocol of every stream it opens or accepts in the peer store
 * (`merge(peer, { protocols: [protocol] })`), though identify has almost always recorded it
 * already: each such merge takes the peer's write lock, reads and decodes its entry, and encodes
 * it again to find nothing changed — about 7 merges per connection end while a mesh forms (every
 * end of its identify, beacon, gossipsub and kad-dht streams), 40 % of the peer-store calls and
 * 8–10 % of the CPU of forming a 100-node mesh.
 *
 * The last state of each connected peer comes with every `peer:update` event (the peer store
 * emits one for every change it writes), so a merge of protocols that state lists already returns
 * it at once; any other merge, or one naming a protocol not listed, goes to the store. A peer's
 * copy is dropped when it disconnects or is deleted from the store.
 */
export function answerKnownProtocolMerges(libp2p: Libp2p): void {
  const known = new Map<string, Peer>()
  const store = libp2p.peerStore
  const merge: Merge = store.merge.bind(store)
  const remove = store.delete.bind(store)
  libp2p.addEventListener('peer:update', (evt: CustomEvent<PeerUpdate>) => {
    const { peer } = evt.detail
    const id = peer.id.toString()
    // only peers with a connection: their streams are what merges protocols
    if (known.has(id) || libp2p.getConnections(peer.id).length > 0) known.set(id, peer)
  })
  libp2p.addEventListener('peer:disconnect', (evt: CustomEvent<PeerId>) => {
    known.delete(evt.detail.toString())
  })
  store.merge = (id, data, options) => {
    const peer = onlyProtocols(data) ? known.get(id.toString()) : undefined
    if (peer !== undefined && data.protocols?.every((p) => peer.protocols.includes(p)) === true) {
      return Promise.resolve(peer)
    }
    return merge(id, data, options)
  }
  store.delete = (id, options) => {
    known.delete(id.toString())
    return remove(id, options)
  }
}

/** True when a merge would set nothing but protocols. */
function onlyProtocols(data: object): data is { protocols: string[] } {
  for (const key in data) if (key !== 'protocols') return false
  return true
}

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import { createLibp2p } from 'libp2p'

/** A bare libp2p node on the in-memory transport (Noise, Yamux, no services), listening at `/memory/<name>`. */
export function startMemoryNode(name: string): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: [`/memory/${name}`] },
    transports: [memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  })
}

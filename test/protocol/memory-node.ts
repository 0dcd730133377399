import type { Libp2p } from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
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

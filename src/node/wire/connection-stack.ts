import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import type { Libp2pOptions } from 'libp2p'
import { sodiumCipherCrypto } from './noise-cipher.ts'
import { cachedKeyCrypto } from './noise-keys.ts'
import { preSharedKeyProtector } from './pnet-cipher.ts'
import { coalescingProtector } from './write-coalescing.ts'

/**
 * What every connection of a node or a light client runs through, below the protocols: the raw
 * connection's writes coalesced per turn, the private network's cipher when there is a swarm key
 * (pnet, XSalsa20 through libsodium), Noise (X25519 keys kept parsed, ChaCha20-Poly1305 through
 * libsodium) and Yamux. The same bytes on the wire as libp2p's own stack.
 */
export function connectionStack(
  swarmKey: Uint8Array | undefined,
): Required<Pick<Libp2pOptions, 'connectionProtector' | 'connectionEncrypters' | 'streamMuxers'>> {
  return {
    connectionProtector: coalescingProtector(
      swarmKey === undefined ? undefined : preSharedKeyProtector(swarmKey),
    ),
    connectionEncrypters: [noise({ crypto: cachedKeyCrypto(sodiumCipherCrypto()) })],
    streamMuxers: [yamux()],
  }
}

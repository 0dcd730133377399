import { createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto'
import type { ICryptoInterface } from '@libp2p/noise'
import { defaultCrypto } from '@libp2p/noise/crypto'

/** DER prefix of an X25519 public key (SubjectPublicKeyInfo) before its 32 raw bytes. */
const SPKI_PREFIX = Buffer.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00])
/** DER prefix of an X25519 private key (PKCS #8) before its 32 raw bytes. */
const PKCS8_PREFIX = Buffer.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
])

/** Peers' public key objects kept at most (a handshake uses each ephemeral key twice). */
const MAX_PUBLIC_KEYS = 256

/**
 * Noise's crypto with its X25519 keys kept as Node key objects.
 *
 * `@libp2p/noise` hands its Diffie-Hellman raw key bytes, and its Node crypto turns both keys into
 * key objects again (a DER parse each) for every one of a handshake's three DH operations — six
 * parses per connection end, 2.5 ms of its ~30 ms while a mesh forms. Here a key pair this crypto
 * made (the node's static key, each handshake's ephemeral key) keeps its private key object, found
 * by the identity of its byte array (Noise never writes into it), and the latest peers' public key
 * objects are kept by their bytes (an ephemeral key is used twice): two parses per end are left.
 * A private key this crypto did not make takes Noise's own path. The maths,
 * messages and checks are Noise's own, unchanged.
 */
export function cachedKeyCrypto(base: ICryptoInterface = defaultCrypto): ICryptoInterface {
  const privates = new WeakMap<Uint8Array, KeyObject>()
  /** Peers' public keys by their bytes (base64), the latest few hundred. */
  const publics = new Map<string, KeyObject>()
  const publicKeyObject = (bytes: Uint8Array): KeyObject => {
    const id = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
    let key = publics.get(id)
    if (key === undefined) {
      const der = Buffer.concat([SPKI_PREFIX, bytes], SPKI_PREFIX.byteLength + bytes.byteLength)
      key = createPublicKey({ key: der, type: 'spki', format: 'der' })
      if (publics.size >= MAX_PUBLIC_KEYS) publics.clear()
      publics.set(id, key)
    }
    return key
  }
  return {
    ...base,
    generateX25519KeyPair() {
      const pair = generateKeyPairSync('x25519')
      const publicKey = pair.publicKey.export({ type: 'spki', format: 'der' }).subarray(SPKI_PREFIX.length)
      const privateKey = pair.privateKey
        .export({ type: 'pkcs8', format: 'der' })
        .subarray(PKCS8_PREFIX.length)
      privates.set(privateKey, pair.privateKey)
      return { publicKey, privateKey }
    },
    generateX25519SharedKey(privateKey, publicKey) {
      const own = privateKey instanceof Uint8Array ? privates.get(privateKey) : undefined
      const bytes = publicKey instanceof Uint8Array ? publicKey : publicKey.subarray()
      if (own === undefined || bytes.byteLength !== 32)
        return base.generateX25519SharedKey(privateKey, publicKey)
      return diffieHellman({ privateKey: own, publicKey: publicKeyObject(bytes) })
    },
  }
}

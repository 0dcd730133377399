import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import sodium from 'sodium-native'
import { memoizeString } from '../../util/memo.ts'

/**
 * Ed25519 signatures through libsodium (`sodium-native`), keys taken apart once. Records, batches
 * and grant proofs are signed and checked on every task's path, several times over (the owner and
 * each replica check a batch's signature): libsodium verifies in about half the time of Node's own
 * Ed25519 (63–76 µs against 130–142 µs here) and signs in two thirds, with raw 32-byte keys and no
 * key objects. Signatures are standard Ed25519 (RFC 8032): any implementation checks them.
 */

/** Bytes of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64

/** The raw Ed25519 public key embedded in a peer id string; undefined for any other peer id. */
export const peerPublicKey: (peerId: string) => Uint8Array | undefined = memoizeString((peerId) => {
  try {
    const key = peerIdFromString(peerId).publicKey
    return key?.type === 'Ed25519' && key.raw.byteLength === 32 ? key.raw : undefined
  } catch {
    return undefined
  }
}, 10_000)

/** True when `signature` is the Ed25519 signature of `payload` by the raw public key `key`. */
export function verifyWithKey(key: Uint8Array, payload: Uint8Array, signature: Uint8Array): boolean {
  if (signature.byteLength !== SIGNATURE_BYTES || key.byteLength !== 32) return false
  try {
    return sodium.crypto_sign_verify_detached(signature, payload, key)
  } catch {
    return false
  }
}

/** True when `signature` is `peerId`'s Ed25519 signature of `payload`; false for any other peer id. */
export function verifyByPeer(peerId: string, payload: Uint8Array, signature: Uint8Array): boolean {
  const key = peerPublicKey(peerId)
  return key !== undefined && verifyWithKey(key, payload, signature)
}

/** libsodium's 64-byte secret keys (seed ‖ public key) of the libp2p keys that signed here. */
const secretKeys = new WeakMap<PrivateKey, Uint8Array>()

/**
 * Signs `payload` with an Ed25519 libp2p private key.
 * @throws TypeError when the key is not Ed25519.
 */
export function signEd25519(privateKey: PrivateKey, payload: Uint8Array): Uint8Array {
  let secret = secretKeys.get(privateKey)
  if (secret === undefined) {
    if (privateKey.type !== 'Ed25519') throw new TypeError('the signing key is not Ed25519')
    const publicKey = new Uint8Array(32)
    secret = new Uint8Array(64)
    sodium.crypto_sign_seed_keypair(publicKey, secret, privateKey.raw.subarray(0, 32))
    secretKeys.set(privateKey, secret)
  }
  const signature = new Uint8Array(SIGNATURE_BYTES)
  sodium.crypto_sign_detached(signature, payload, secret)
  return signature
}

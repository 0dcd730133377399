import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { toString as bytesToString } from 'uint8arrays'
import { memoizeString } from '../../util/memo.ts'

/**
 * Ed25519 signatures with the node's own crypto, keys parsed once. `@libp2p/crypto` converts the
 * raw key to a key object on every call, which costs about as much as the signature itself;
 * records and batches are signed and checked on every task's path, so the parsed keys are kept.
 */

const base64url = (bytes: Uint8Array) => bytesToString(bytes, 'base64url')

/** The Ed25519 public key embedded in a peer id string, parsed; undefined for any other peer id. */
export const peerPublicKey: (peerId: string) => KeyObject | undefined = memoizeString((peerId) => {
  try {
    const key = peerIdFromString(peerId).publicKey
    if (key?.type !== 'Ed25519') return undefined
    return createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x: base64url(key.raw) } })
  } catch {
    return undefined
  }
}, 10_000)

/** True when `signature` is `peerId`'s Ed25519 signature of `payload`; false for any other peer id. */
export function verifyByPeer(peerId: string, payload: Uint8Array, signature: Uint8Array): boolean {
  const key = peerPublicKey(peerId)
  if (key === undefined || signature.byteLength !== 64) return false
  try {
    return verify(null, payload, key, signature)
  } catch {
    return false
  }
}

const privateKeys = new WeakMap<PrivateKey, KeyObject>()

/**
 * Signs `payload` with an Ed25519 libp2p private key.
 * @throws TypeError when the key is not Ed25519.
 */
export function signEd25519(privateKey: PrivateKey, payload: Uint8Array): Uint8Array {
  let key = privateKeys.get(privateKey)
  if (key === undefined) {
    if (privateKey.type !== 'Ed25519') throw new TypeError('the signing key is not Ed25519')
    const raw = privateKey.raw
    key = createPrivateKey({
      format: 'jwk',
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        d: base64url(raw.subarray(0, 32)),
        x: base64url(privateKey.publicKey.raw),
      },
    })
    privateKeys.set(privateKey, key)
  }
  return sign(null, payload, key)
}

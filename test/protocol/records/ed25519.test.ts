import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import {
  peerPublicKey,
  signEd25519,
  verifyByPeer,
  verifyWithKey,
} from '../../../src/protocol/records/ed25519.ts'

const payload = new TextEncoder().encode('taskmesh batch root')

describe('Ed25519 through libsodium', () => {
  it('signs what libp2p’s own key and Node’s Ed25519 accept, and accepts what they sign', async () => {
    const key = await generateKeyPair('Ed25519')
    const peer = peerIdFromPrivateKey(key).toString()
    const ours = signEd25519(key, payload)
    expect(ours.byteLength).toBe(64)
    // Ed25519 is deterministic: the same signature libp2p's key makes
    expect(Buffer.from(ours)).toEqual(Buffer.from(await key.sign(payload)))
    expect(await key.publicKey.verify(payload, ours)).toBe(true)
    expect(verifyByPeer(peer, payload, await key.sign(payload))).toBe(true)
    expect(verifyByPeer(peer, payload, ours)).toBe(true)
  })

  it('agrees with Node’s Ed25519 on a key made outside libp2p', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519')
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
    const signature = sign(null, payload, privateKey)
    expect(verifyWithKey(raw, payload, signature)).toBe(true)
    expect(verify(null, payload, publicKey, signature)).toBe(true)
  })

  it('refuses a signature of other bytes, by another peer, or of the wrong length, without throwing', async () => {
    const key = await generateKeyPair('Ed25519')
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const peer = peerIdFromPrivateKey(key).toString()
    const signature = signEd25519(key, payload)
    const flipped = Uint8Array.from(signature)
    flipped[10] ^= 1
    expect(verifyByPeer(peer, payload, flipped)).toBe(false)
    expect(verifyByPeer(peer, new TextEncoder().encode('another root'), signature)).toBe(false)
    expect(verifyByPeer(other, payload, signature)).toBe(false)
    expect(verifyByPeer(peer, payload, signature.subarray(0, 63))).toBe(false)
    expect(verifyWithKey(new Uint8Array(31), payload, signature)).toBe(false)
  })

  it('finds no key in a peer id that embeds none, and refuses to sign with a key that is not Ed25519', async () => {
    const secp = await generateKeyPair('secp256k1')
    const secpPeer = peerIdFromPrivateKey(secp).toString()
    expect(peerPublicKey(secpPeer)).toBeUndefined()
    expect(peerPublicKey('not a peer id')).toBeUndefined()
    expect(verifyByPeer(secpPeer, payload, new Uint8Array(64))).toBe(false)
    expect(() => signEd25519(secp, payload)).toThrow(TypeError)
  })
})

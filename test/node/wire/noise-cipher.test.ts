import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import type { ICryptoInterface } from '@libp2p/noise'
import { noise } from '@libp2p/noise'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import { afterEach, describe, expect, it } from 'vitest'
import { sodiumCipherCrypto } from '../../../src/node/wire/noise-cipher.ts'

const started: Libp2p[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

async function node(crypto: ICryptoInterface, name: string): Promise<Libp2p> {
  const libp2p = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: [`/memory/${name}-${Math.random()}`] },
    transports: [memory()],
    connectionEncrypters: [noise({ crypto })],
    streamMuxers: [yamux()],
  })
  started.push(libp2p)
  return libp2p
}

/** Serves an echo protocol: every message comes back as it was sent. */
async function echo(libp2p: Libp2p): Promise<void> {
  await libp2p.handle('/echo/1', (stream: Stream) => {
    stream.addEventListener('message', (evt) => stream.send(evt.data))
  })
}

const key = new Uint8Array(32).fill(7)
const nonce = new Uint8Array(12).fill(1)
const ad = new Uint8Array([1, 2, 3])

describe('sodiumCipherCrypto', () => {
  it('seals and opens exactly as Noise’s own cipher does, for every message size the mesh sends', () => {
    const sodium = sodiumCipherCrypto()
    for (const size of [0, 1, 100, 1199, 1200, 4000, 65519]) {
      const plaintext = Uint8Array.from({ length: size }, (_, i) => i % 251)
      const ours = sodium.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key).subarray()
      expect(Buffer.from(ours)).toEqual(
        Buffer.from(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key).subarray()),
      )
      expect(Buffer.from(defaultCrypto.chaCha20Poly1305Decrypt(ours, nonce, ad, key).subarray())).toEqual(
        Buffer.from(plaintext),
      )
      const list = new Uint8ArrayList(ours.subarray(0, size >> 1), ours.subarray(size >> 1))
      expect(Buffer.from(sodium.chaCha20Poly1305Decrypt(list, nonce, ad, key).subarray())).toEqual(
        Buffer.from(plaintext),
      )
    }
  })

  it('opens in place into the ciphertext’s own bytes, as Noise hands them', () => {
    const sodium = sodiumCipherCrypto()
    const plaintext = new TextEncoder().encode('a store frame of result records')
    const sealed = Uint8Array.from(sodium.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key).subarray())
    const dst = sealed.subarray(0, plaintext.byteLength)
    const opened = sodium.chaCha20Poly1305Decrypt(sealed, nonce, ad, key, dst)
    expect(opened.subarray().buffer).toBe(sealed.buffer)
    expect(Buffer.from(opened.subarray())).toEqual(Buffer.from(plaintext))
  })

  it('throws on a flipped bit, a wrong nonce or other associated data, and on a short message', () => {
    const sodium = sodiumCipherCrypto()
    const sealed = Uint8Array.from(
      sodium.chaCha20Poly1305Encrypt(new Uint8Array(64), nonce, ad, key).subarray(),
    )
    const flipped = Uint8Array.from(sealed)
    flipped[3] ^= 1
    expect(() => sodium.chaCha20Poly1305Decrypt(flipped, nonce, ad, key)).toThrow(/decryption/)
    expect(() => sodium.chaCha20Poly1305Decrypt(sealed, new Uint8Array(12), ad, key)).toThrow(/decryption/)
    expect(() => sodium.chaCha20Poly1305Decrypt(sealed, nonce, new Uint8Array(0), key)).toThrow(/decryption/)
    expect(() => sodium.chaCha20Poly1305Decrypt(new Uint8Array(15), nonce, ad, key)).toThrow(/decryption/)
  })

  it('talks to a peer using Noise’s own crypto, either side dialling', async () => {
    const ours = await node(sodiumCipherCrypto(), 'sodium')
    const theirs = await node(defaultCrypto, 'plain')
    await echo(theirs)
    await echo(ours)
    for (const [from, to] of [
      [ours, theirs],
      [theirs, ours],
    ]) {
      const stream = await from.dialProtocol(to.getMultiaddrs()[0], '/echo/1')
      const sent = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256) // more than one Noise message
      const back = new Uint8ArrayList()
      const done = new Promise<void>((resolve) =>
        stream.addEventListener('message', (evt) => {
          back.append(evt.data)
          if (back.byteLength >= sent.byteLength) resolve()
        }),
      )
      stream.send(sent)
      await done
      expect(Buffer.from(back.subarray())).toEqual(Buffer.from(sent))
      await stream.close()
    }
  })
})

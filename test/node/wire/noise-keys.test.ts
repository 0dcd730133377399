import { generateKeyPair } from '@libp2p/crypto/keys'
import { memory } from '@libp2p/memory'
import type { ICryptoInterface } from '@libp2p/noise'
import { noise } from '@libp2p/noise'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { cachedKeyCrypto } from '../../../src/node/wire/noise-keys.ts'

const started: Libp2p[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

/** Noise's own crypto, counting the Diffie-Hellman operations left to it. */
function counted(): { base: ICryptoInterface; calls: () => number } {
  let calls = 0
  const base = {
    ...defaultCrypto,
    generateX25519SharedKey: (...args: Parameters<ICryptoInterface['generateX25519SharedKey']>) => {
      calls++
      return defaultCrypto.generateX25519SharedKey(...args)
    },
  }
  return { base, calls: () => calls }
}

async function node(crypto: ICryptoInterface): Promise<Libp2p> {
  const libp2p = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: [`/memory/${crypto === defaultCrypto ? 'plain' : 'cached'}-${Math.random()}`] },
    transports: [memory()],
    connectionEncrypters: [noise({ crypto })],
    streamMuxers: [yamux()],
  })
  started.push(libp2p)
  return libp2p
}

describe('cachedKeyCrypto', () => {
  it('agrees on the session keys with a peer using Noise’s own crypto, either side dialling', async () => {
    const { base, calls } = counted()
    const cached = await node(cachedKeyCrypto(base))
    const plain = await node(defaultCrypto)
    const out = await cached.dial(plain.getMultiaddrs()[0])
    const back = await node(defaultCrypto)
    const into = await back.dial(cached.getMultiaddrs()[0])
    expect([out.status, into.status]).toEqual(['open', 'open'])
    // every DH of both handshakes used the kept key objects
    expect(calls()).toBe(0)
  })

  it('leaves a private key it did not make to Noise’s own crypto', () => {
    const { base, calls } = counted()
    const crypto = cachedKeyCrypto(base)
    const theirs = defaultCrypto.generateX25519KeyPair()
    const mine = crypto.generateX25519KeyPair()
    const foreign = defaultCrypto.generateX25519KeyPair()
    const a = crypto.generateX25519SharedKey(mine.privateKey, theirs.publicKey)
    expect(Buffer.from(a)).toEqual(
      Buffer.from(defaultCrypto.generateX25519SharedKey(theirs.privateKey, mine.publicKey)),
    )
    expect(calls()).toBe(0)
    crypto.generateX25519SharedKey(foreign.privateKey, theirs.publicKey)
    expect(calls()).toBe(1)
  })
})

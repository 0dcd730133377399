import type { MessageStream } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { describe, expect, it } from 'vitest'
import {
  type Cipher,
  inPieces,
  PNET_CHUNK_BYTES,
  preSharedKeyProtector,
  toSodium,
} from '../../../src/node/wire/pnet-cipher.ts'
import { generateSwarmKey } from '../../../src/node/wire/swarm-key.ts'

interface Connection {
  near: MessageStream
  received: Uint8Array[]
  /** Resolves once the far end has received `bytes` in all. */
  receivedBytes(bytes: number): Promise<void>
}

/** Two private-network connections over in-memory connection pairs, and what each far end received. */
async function twoConnections(protector: ReturnType<typeof preSharedKeyProtector>): Promise<Connection[]> {
  const connections: Connection[] = []
  for (let i = 0; i < 2; i++) {
    const [a, b] = multiaddrConnectionPair({ chunkSize: 64 * 1024 })
    const [near, far] = await Promise.all([protector().protect(a), protector().protect(b)])
    const received: Uint8Array[] = []
    let total = 0
    let waiting: { bytes: number; resolve: () => void } | undefined
    far.addEventListener('message', (evt) => {
      received.push(evt.data.subarray())
      total += evt.data.byteLength
      if (waiting !== undefined && total >= waiting.bytes) waiting.resolve()
    })
    const receivedBytes = (bytes: number) =>
      total >= bytes ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { bytes, resolve }))
    connections.push({ near, received, receivedBytes })
  }
  return connections
}

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + seed) % 251
  return bytes
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.byteLength, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.byteLength
  }
  return out
}

/**
 * Two fresh cipher pairs of the stock protector, each pair the two ends of one direction of a
 * connection (the sender's `outboundXor` and the receiver's `inboundXor`: the same nonce and key).
 */
async function cipherPairs(): Promise<Array<[Cipher, Cipher]>> {
  const psk = generateSwarmKey()
  const [a, b] = multiaddrConnectionPair()
  const [near, far] = (await Promise.all([
    preSharedKey({ psk })().protect(a),
    preSharedKey({ psk })().protect(b),
  ])) as unknown as Array<{ inboundXor: Cipher; outboundXor: Cipher }>
  return [
    [near.outboundXor, far.inboundXor],
    [far.outboundXor, near.inboundXor],
  ]
}

/** Cuts `input` into pieces of the sizes given in turn and runs each through `cipher`. */
function cutThrough(cipher: Cipher, input: Uint8Array, sizes: number[]): Uint8Array {
  const out: Uint8Array[] = []
  for (let at = 0, n = 0; at < input.byteLength; n++) {
    out.push(cipher.update(input.subarray(at, at + sizes[n % sizes.length])))
    at += sizes[n % sizes.length]
  }
  return concat(out)
}

describe('toSodium', () => {
  it('moves a fresh pnet cipher to libsodium: the same key stream as the WebAssembly one, however cut', async () => {
    const [[moved, wasm]] = await cipherPairs()
    const wasmUpdate = moved.update
    expect(toSodium(moved)).toBe(true)
    expect(moved.update).not.toBe(wasmUpdate)
    const input = pattern(200_000, 5)
    const ours = cutThrough(moved, input, [1, 63, 64, 65, 1500, 60_000])
    const theirs = cutThrough(wasm, input, [1500, 7, 64_000])
    expect(Buffer.from(ours).equals(Buffer.from(theirs))).toBe(true)
    expect(Buffer.from(ours).equals(Buffer.from(input))).toBe(false)
  })

  it('leaves a cipher that was used, or that is not xsalsa20’s, as it was', async () => {
    const [[used]] = await cipherPairs()
    used.update(new Uint8Array(10))
    const update = used.update
    expect(toSodium(used)).toBe(false)
    expect(used.update).toBe(update)
    // a whole block through it: no bytes held over, but its counter moved (a fresh key stream would repeat)
    const [[block]] = await cipherPairs()
    block.update(new Uint8Array(64))
    expect(toSodium(block)).toBe(false)
    expect(toSodium({ update: (input) => input })).toBe(false)
  })
})

describe('inPieces', () => {
  it('gives WebAssembly ciphers at most PNET_CHUNK_BYTES at once: a 1 MiB write, then small ones, bytes intact', async () => {
    const pairs = await cipherPairs()
    for (const [wasm, reference] of pairs) {
      inPieces(wasm)
      expect(toSodium(reference)).toBe(true)
    }
    const inputs = [pattern(1 << 20, 1), ...Array.from({ length: 1_500 }, (_, n) => pattern(100, n))]
    // the two ciphers take turns, as two connections' do: the one that grew the memory first and the other
    for (const [n, input] of inputs.entries()) {
      const [wasm, reference] = pairs[n % 2]
      expect(Buffer.from(wasm.update(input)).equals(Buffer.from(reference.update(input)))).toBe(true)
    }
  })
})

describe('preSharedKeyProtector', () => {
  it('survives a 1 MiB write followed by many small writes on two connections, bytes intact', async () => {
    const connections = await twoConnections(preSharedKeyProtector(generateSwarmKey()))
    const sent: Uint8Array[][] = [[], []]
    const sentBytes = [0, 0]
    // each write is delivered before the next, so the two connections' ciphers take turns
    const send = async (i: number, bytes: Uint8Array) => {
      sent[i].push(bytes)
      sentBytes[i] += bytes.byteLength
      connections[i].near.send(bytes)
      await connections[i].receivedBytes(sentBytes[i])
    }
    await send(0, pattern(1 << 20, 1)) // one write far larger than the cipher's 640 KiB of memory
    for (let n = 0; n < 1_500; n++) await send(n % 2, pattern(100, n))
    for (const [i, c] of connections.entries()) {
      expect(Buffer.from(concat(c.received)).equals(concat(sent[i])), `connection ${i}: bytes differ`).toBe(
        true,
      )
    }
  })

  it('speaks the plain protector’s bytes (one side on libsodium, the other not)', async () => {
    const psk = generateSwarmKey()
    const [a, b] = multiaddrConnectionPair({ chunkSize: 64 * 1024 })
    const [near, far] = await Promise.all([
      preSharedKeyProtector(psk)().protect(a),
      (preSharedKey({ psk }) as ReturnType<typeof preSharedKeyProtector>)().protect(b),
    ])
    const received: Uint8Array[] = []
    far.addEventListener('message', (evt) => received.push(evt.data.subarray()))
    const message = pattern(3 * PNET_CHUNK_BYTES + 5, 3)
    near.send(message)
    await expect.poll(() => concat(received).byteLength, { timeout: 10_000 }).toBe(message.byteLength)
    expect(Buffer.from(concat(received)).equals(message), 'bytes differ').toBe(true)
  })
})

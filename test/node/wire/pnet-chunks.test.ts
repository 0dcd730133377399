import type { MessageStream } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { describe, expect, it } from 'vitest'
import { chunkedPreSharedKey, PNET_CHUNK_BYTES } from '../../../src/node/wire/pnet-chunks.ts'
import { generateSwarmKey } from '../../../src/node/wire/swarm-key.ts'

interface Connection {
  near: MessageStream
  received: Uint8Array[]
  /** Resolves once the far end has received `bytes` in all. */
  receivedBytes(bytes: number): Promise<void>
}

/** Two private-network connections over in-memory connection pairs, and what each far end received. */
async function twoConnections(protector: ReturnType<typeof chunkedPreSharedKey>): Promise<Connection[]> {
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

describe('chunkedPreSharedKey', () => {
  it('survives a 1 MiB write followed by many small writes on two connections, bytes intact', async () => {
    const connections = await twoConnections(chunkedPreSharedKey(generateSwarmKey()))
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

  it('speaks the plain protector’s bytes (one side chunked, the other not)', async () => {
    const psk = generateSwarmKey()
    const [a, b] = multiaddrConnectionPair({ chunkSize: 64 * 1024 })
    const [near, far] = await Promise.all([
      chunkedPreSharedKey(psk)().protect(a),
      (preSharedKey({ psk }) as ReturnType<typeof chunkedPreSharedKey>)().protect(b),
    ])
    const received: Uint8Array[] = []
    far.addEventListener('message', (evt) => received.push(evt.data.subarray()))
    const message = pattern(3 * PNET_CHUNK_BYTES + 5, 3)
    near.send(message)
    await expect.poll(() => concat(received).byteLength, { timeout: 10_000 }).toBe(message.byteLength)
    expect(Buffer.from(concat(received)).equals(message), 'bytes differ').toBe(true)
  })
})

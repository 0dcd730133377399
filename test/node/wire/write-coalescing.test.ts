import { Socket } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { ConnectionProtector, Stream } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { generateKey, preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { preSharedKeyProtector } from '../../../src/node/wire/pnet-cipher.ts'
import { coalesceWrites, coalescingProtector } from '../../../src/node/wire/write-coalescing.ts'

const started: Libp2p[] = []

afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

async function node(protector: (() => ConnectionProtector) | undefined): Promise<Libp2p> {
  const libp2p = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector: protector,
  })
  await libp2p.handle('/echo/1', (stream: Stream) => {
    stream.addEventListener('message', (evt) => stream.send(evt.data))
  })
  started.push(libp2p)
  return libp2p
}

/** Opens an echo stream from `a` to `b` and collects what comes back. */
async function echoStream(a: Libp2p, b: Libp2p) {
  const stream = await a.dialProtocol(b.getMultiaddrs()[0], '/echo/1')
  const received: Uint8Array[] = []
  let bytes = 0
  const waiters: Array<{ bytes: number; resolve: () => void }> = []
  stream.addEventListener('message', (evt) => {
    const data = evt.data.subarray()
    received.push(data)
    bytes += data.byteLength
    for (const w of waiters.splice(0))
      if (bytes >= w.bytes) w.resolve()
      else waiters.push(w)
  })
  const until = (total: number) =>
    new Promise<void>((resolve) => (bytes >= total ? resolve() : waiters.push({ bytes: total, resolve })))
  return { stream, received: () => Buffer.concat(received), until }
}

/** One byte there and back: the stream is open both ways and nothing is left to write. */
async function warm(echo: Awaited<ReturnType<typeof echoStream>>): Promise<void> {
  echo.stream.send(new Uint8Array([255]))
  await echo.until(1)
}

/** 100 messages of 0–99 bytes, each byte its message's number. */
const messages = Array.from({ length: 100 }, (_, i) => new Uint8Array(i).fill(i))
const expected = Buffer.concat(messages)

/**
 * Sends the 100 messages on an echo stream between two nodes with `protector`, all in one turn;
 * checks every byte comes back in order and returns the socket writes of that turn.
 */
async function socketWritesOfOneTurn(protector: (() => ConnectionProtector) | undefined): Promise<number> {
  const [a, b] = await Promise.all([node(protector), node(protector)])
  const echo = await echoStream(a, b)
  await warm(echo) // the dial's own frames are out
  const writes = vi.spyOn(Socket.prototype as unknown as { _writeGeneric: () => void }, '_writeGeneric')
  for (const m of messages) echo.stream.send(m)
  await new Promise<void>((resolve) => process.nextTick(resolve))
  const count = writes.mock.calls.length
  await echo.until(1 + expected.byteLength)
  expect(echo.received().subarray(1)).toEqual(expected)
  return count
}

describe('coalescingProtector', () => {
  it('sends a turn’s frames over TCP in one socket write, every byte in order', async () => {
    // a's 100 messages (200 Yamux and 100 Noise frames) leave in one writev
    expect(await socketWritesOfOneTurn(coalescingProtector())).toBe(1)
  })

  it('writes each frame apart without it (what the test above would see)', async () => {
    expect(await socketWritesOfOneTurn(undefined)).toBeGreaterThanOrEqual(100)
  })

  it('keeps back-pressure: 4 MiB sent in one turn arrive whole', async () => {
    const [a, b] = await Promise.all([node(coalescingProtector()), node(coalescingProtector())])
    const echo = await echoStream(a, b)
    const big = Uint8Array.from({ length: 4 * 2 ** 20 }, (_, i) => (i * 7) % 256)
    for (let i = 0; i < big.byteLength; i += 64 * 1024) {
      const more = echo.stream.send(big.subarray(i, i + 64 * 1024))
      if (!more)
        await new Promise((resolve) => echo.stream.addEventListener('drain', resolve, { once: true }))
    }
    await echo.until(big.byteLength)
    expect(echo.received().equals(Buffer.from(big))).toBe(true)
  })

  it('runs before the private network’s protector and speaks with the stock one', async () => {
    const psk = new Uint8Array(95)
    generateKey(psk)
    const [a, b] = await Promise.all([
      node(coalescingProtector(preSharedKeyProtector(psk))),
      node(preSharedKey({ psk })),
    ])
    for (const [from, to] of [
      [a, b],
      [b, a],
    ]) {
      const echo = await echoStream(from, to)
      for (const m of messages) echo.stream.send(m)
      await echo.until(expected.byteLength)
      expect(echo.received()).toEqual(expected)
      await echo.stream.close()
    }
  })

  it('leaves a connection without a TCP socket as it was', () => {
    const sendData = () => ({ sentBytes: 0, canSendMore: true })
    const connection = { socket: {}, sendData } as never
    expect(coalesceWrites(connection)).toBe(false)
    expect((connection as { sendData: unknown }).sendData).toBe(sendData)
  })
})

import type { Libp2p, Stream } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startMemoryNode } from '../../protocol/memory-node.ts'
import '../../../src/node/wire/yamux-window-updates.ts'

const PROTOCOL = '/taskmesh-test/window/1.0.0'
/** Yamux's FrameType.WindowUpdate. */
const WINDOW_UPDATE = 1

describe('yamux window updates once half the window is consumed', () => {
  let a: Libp2p
  let b: Libp2p
  /** What the receiving side read, per stream, and how many window updates it sent. */
  const received: Array<{ bytes: number; updates: number; done: Promise<void> }> = []

  beforeAll(async () => {
    const suffix = `${process.pid}-${Date.now()}`
    a = await startMemoryNode(`window-a-${suffix}`)
    b = await startMemoryNode(`window-b-${suffix}`)
    await b.handle(PROTOCOL, (stream: Stream) => {
      const entry = { bytes: 0, updates: 0, done: Promise.resolve() }
      const inner = stream as unknown as { sendFrame(frame: { type: number }): void }
      const send = inner.sendFrame.bind(inner)
      inner.sendFrame = (frame) => {
        if (frame.type === WINDOW_UPDATE) entry.updates++
        send(frame)
      }
      entry.done = (async () => {
        for await (const chunk of stream) entry.bytes += chunk.byteLength
        await stream.close()
      })()
      received.push(entry)
    })
    await a.start()
    await b.start()
  })

  afterAll(async () => {
    await a.stop()
    await b.stop()
  })

  const send = async (chunks: number, size: number) => {
    const stream = await a.dialProtocol(b.getMultiaddrs()[0], PROTOCOL)
    for (let i = 0; i < chunks; i++) {
      if (!stream.send(new Uint8Array(size).fill(i % 256))) await stream.onDrain()
    }
    await stream.close()
    const entry = received.at(-1)
    await entry?.done
    return entry
  }

  it('200 small messages cost the receiver no window update (one each before)', async () => {
    const entry = await send(200, 100)
    expect(entry?.bytes).toBe(20_000)
    expect(entry?.updates).toBeLessThanOrEqual(1) // at most the ACK of the stream's opening
  })

  it('a transfer of many windows still flows to the end: updates go out at half a window', async () => {
    const entry = await send(512, 8 * 1024) // 4 MiB, 16 initial windows of 256 KiB
    expect(entry?.bytes).toBe(4 * 1024 * 1024)
    expect(entry?.updates).toBeGreaterThan(1)
    expect(entry?.updates).toBeLessThan(100) // one per data frame would be 512
  })
})

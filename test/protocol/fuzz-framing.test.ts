import type { Libp2p } from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import { noise } from '@libp2p/noise'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import fc from 'fast-check'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeMessage } from '../../src/protocol/codec.ts'
import { STEAL_PROTOCOL } from '../../src/protocol/constants.ts'
import { InvalidMessageError, RpcClosedError } from '../../src/protocol/errors.ts'
import { type StealFrame, type StealReply, stealFrameSchema } from '../../src/protocol/messages/messages.ts'
import { InboundBudget } from '../../src/protocol/rpc/inbound-budget.ts'
import { serveFrames } from '../../src/protocol/rpc/rpc.ts'
import { varint } from '../integration/helpers.ts'
import { stealFrames } from './arbitraries.ts'

const startNode = (name: string) =>
  createLibp2p({
    addresses: { listen: [`/memory/${name}`] },
    transports: [memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  })

/**
 * The framing layer under arbitrary bytes, over real libp2p streams: whatever a requester sends
 * before half-closing — a valid frame, a valid frame cut short or followed by more, a length prefix
 * of any size, random bytes, split into arbitrary chunks — the server answers exactly the valid
 * single frames, aborts the stream for everything else with `InvalidMessageError` or
 * `RpcClosedError` (never another error), holds nothing afterwards, and keeps serving.
 */
describe('fuzzing the stream framing', () => {
  let server: Libp2p
  let client: Libp2p
  const errors: Error[] = []
  const budget = new InboundBudget(64 * 1024 * 1024)

  beforeAll(async () => {
    const suffix = `${process.pid}-${Date.now()}`
    server = await startNode(`fuzz-server-${suffix}`)
    client = await startNode(`fuzz-client-${suffix}`)
    await server.handle(STEAL_PROTOCOL, (stream) =>
      serveFrames<StealFrame, StealReply>(
        stream,
        stealFrameSchema,
        (req, send) => send({ type: 'released', requestId: req.requestId, released: [] }),
        { what: 'steal frame', maxBytes: 64 * 1024, budget, onError: (err) => errors.push(err) },
      ),
    )
  })

  afterAll(async () => {
    await client?.stop()
    await server?.stop()
  })

  /** What the requester sends, and whether it is exactly one valid frame. */
  const sendings = fc.oneof(
    fc.oneof(...Object.values(stealFrames)).map((f) => {
      const body = encodeMessage(f)
      return {
        bytes: Uint8Array.from([...varint(body.byteLength), ...body]),
        valid: true,
        requestId: f.requestId,
      }
    }),
    fc
      .tuple(
        fc.oneof(...Object.values(stealFrames)),
        fc.integer({ min: -20, max: 20 }).filter((d) => d !== 0),
      )
      .map(([f, delta]) => {
        // the prefix announces more, or fewer, bytes than follow
        const body = encodeMessage(f)
        const announced = Math.max(0, body.byteLength + delta)
        return {
          bytes: Uint8Array.from([...varint(announced), ...body]),
          valid: false,
          requestId: f.requestId,
        }
      }),
    fc
      .tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.uint8Array({ maxLength: 200 }))
      .map(([n, rest]) => ({ bytes: Uint8Array.from([...varint(n), ...rest]), valid: false, requestId: '' })),
    fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ bytes, valid: false, requestId: '' })),
  )

  it('answers exactly the valid single frames; anything else is cut off with a documented error', async () => {
    await fc.assert(
      fc.asyncProperty(sendings, fc.array(fc.nat({ max: 300 }), { maxLength: 4 }), async (sending, cuts) => {
        const before = errors.length
        const stream = await client.dialProtocol(server.getMultiaddrs()[0], STEAL_PROTOCOL)
        // split into chunks at arbitrary points
        const points = [...new Set(cuts.map((c) => c % (sending.bytes.byteLength + 1)))].sort((a, b) => a - b)
        let from = 0
        for (const to of [...points, sending.bytes.byteLength]) {
          if (to > from) stream.send(sending.bytes.subarray(from, to))
          from = Math.max(from, to)
        }
        await stream.close()
        const reply = await lpStream(stream)
          .read({ signal: AbortSignal.timeout(5_000) })
          .then(
            (frame) => JSON.parse(new TextDecoder().decode(frame.subarray())) as { requestId: string },
            (err: Error) => err,
          )
        if (sending.valid) {
          expect(reply).toEqual({ type: 'released', requestId: sending.requestId, released: [] })
        } else {
          expect(reply).toBeInstanceOf(Error)
          expect((reply as Error).name).not.toBe('TimeoutError')
          expect(errors.length).toBe(before + 1)
          const err = errors[before]
          expect(
            [InvalidMessageError, RpcClosedError].some((E) => err instanceof E),
            `${err.name}: ${err.message}`,
          ).toBe(true)
        }
        expect(budget.usedBytes).toBe(0)
      }),
      { numRuns: 80 },
    )
  })
})

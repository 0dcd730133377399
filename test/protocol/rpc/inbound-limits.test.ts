import type { Libp2p } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { encode } from 'it-length-prefixed'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InboundBudgetError, InvalidMessageError, RpcTimeoutError } from '../../../src/protocol/errors.ts'
import {
  type StealFrame,
  type StealReply,
  stealFrameSchema,
  stealReplySchema,
} from '../../../src/protocol/messages/messages.ts'
import { InboundBudget } from '../../../src/protocol/rpc/inbound-budget.ts'
import { requestOnce, serveFrames } from '../../../src/protocol/rpc/rpc.ts'
import { makeStealRequest } from '../fixtures.ts'
import { startMemoryNode } from '../memory-node.ts'

describe('inbound stream limits of serveFrames', () => {
  const PARTIAL = '/taskmesh-test/partial/1.0.0'
  const HOLD = '/taskmesh-test/hold/1.0.0'
  const BUDGET = '/taskmesh-test/budget/1.0.0'
  let server: Libp2p
  let client: Libp2p
  const errors: Error[] = []
  const budget = new InboundBudget(1_000)
  /** Resolved by the HOLD handler once it has the request (and then holds the stream open). */
  let requestSeen: PromiseWithResolvers<void> = Promise.withResolvers()
  const release = Promise.withResolvers<void>()

  const dial = (protocol: string) => client.dialProtocol(server.getMultiaddrs()[0], protocol)
  const grant = (requestId: string) => ({
    type: 'grant' as const,
    requestId,
    tasks: [],
    leases: [],
    ttlMs: 1,
  })

  beforeAll(async () => {
    const suffix = `${process.pid}-${Date.now()}`
    server = await startMemoryNode(`limits-server-${suffix}`)
    client = await startMemoryNode(`limits-client-${suffix}`)
    const onError = (err: Error) => errors.push(err)
    await server.handle(PARTIAL, (stream) =>
      serveFrames(stream, stealFrameSchema, async () => {}, {
        what: 'partial frame',
        readTimeoutMs: 100,
        onError,
      }),
    )
    await server.handle(HOLD, (stream) =>
      serveFrames(
        stream,
        stealFrameSchema,
        async () => {
          requestSeen.resolve()
          await release.promise
        },
        { what: 'held frame', onError },
      ),
    )
    await server.handle(
      BUDGET,
      (stream) =>
        serveFrames<StealFrame, StealReply>(
          stream,
          stealFrameSchema,
          (req, send) => send(grant(req.requestId)),
          {
            what: 'budget frame',
            budget,
            onError,
          },
        ),
      { maxInboundStreams: 8 },
    )
  })

  afterAll(async () => {
    release.resolve()
    await client?.stop()
    await server?.stop()
  })

  it('aborts a stream whose frame does not arrive whole within readTimeoutMs', async () => {
    const before = errors.length
    const stream = await dial(PARTIAL)
    stream.send(Uint8Array.from([50, ...new Uint8Array(10).fill(0x20)])) // announces 50 bytes, sends 10
    await expect(lpStream(stream).read({ signal: AbortSignal.timeout(5_000) })).rejects.toThrow()
    expect(errors[before]).toBeInstanceOf(RpcTimeoutError)
    expect(errors[before].message).toBe('partial frame: deadline passed')
  })

  it('aborts a stream that sends data after its request frame', async () => {
    requestSeen = Promise.withResolvers()
    const before = errors.length
    const stream = await dial(HOLD)
    const lp = lpStream(stream)
    await lp.write(new TextEncoder().encode(JSON.stringify(makeStealRequest())))
    await requestSeen.promise
    stream.send(new Uint8Array([1, 2, 3]))
    await expect(lp.read({ signal: AbortSignal.timeout(5_000) })).rejects.toThrow()
    expect(errors[before]).toBeInstanceOf(InvalidMessageError)
    expect(errors[before].message).toBe('held frame: data after the request frame')
  })

  it('aborts a stream whose request frame comes with more bytes in the same chunk (no half-close)', async () => {
    const before = errors.length
    const stream = await dial(HOLD)
    const frame = encode.single(new TextEncoder().encode(JSON.stringify(makeStealRequest())))
    stream.send(Uint8Array.from([...frame.subarray(), 1, 2, 3])) // one chunk: the frame, then junk
    await expect(lpStream(stream).read({ signal: AbortSignal.timeout(5_000) })).rejects.toThrow()
    expect(errors[before]).toBeInstanceOf(InvalidMessageError)
    expect(errors[before].message).toBe('held frame: data after the request frame')
  })

  it('over the inbound budget, the stream holding the most is aborted and a small request is still served', async () => {
    const before = errors.length
    const hog = await dial(BUDGET)
    hog.send(Uint8Array.from([0xe8, 0x07, ...new Uint8Array(900).fill(0x20)])) // announces 1000, sends 900
    const deadline = Date.now() + 5_000
    while (budget.usedBytes < 900) {
      if (Date.now() > deadline) throw new Error(`the server holds ${budget.usedBytes} bytes, not 900`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const reply = await requestOnce(
      await dial(BUDGET),
      { ...makeStealRequest(), requestId: 'small' },
      stealReplySchema,
    )
    expect(reply).toEqual(grant('small'))
    await expect(lpStream(hog).read({ signal: AbortSignal.timeout(5_000) })).rejects.toThrow()
    expect(errors[before]).toBeInstanceOf(InboundBudgetError)
    expect(budget.evictions).toBe(1)
    expect(budget.usedBytes).toBe(0)
  })
})

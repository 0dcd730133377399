import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { encode } from 'it-length-prefixed'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STEAL_PROTOCOL, SUBMIT_PROTOCOL } from '../../../src/protocol/constants.ts'
import {
  InboundBudgetError,
  InvalidMessageError,
  RpcClosedError,
  RpcTimeoutError,
} from '../../../src/protocol/errors.ts'
import {
  type ResultReply,
  type StealFrame,
  type StealReply,
  type SubmitFrame,
  type SubmitFrameReply,
  stealFrameSchema,
  stealReplySchema,
  submitFrameSchema,
  submitReplySchema,
} from '../../../src/protocol/messages/messages.ts'
import { InboundBudget } from '../../../src/protocol/rpc/inbound-budget.ts'
import { requestMany, requestOnce, serveFrames } from '../../../src/protocol/rpc/rpc.ts'
import { makeStealRequest, makeTask } from '../fixtures.ts'
import { startMemoryNode } from '../memory-node.ts'

/** A protocol whose server gives up on a request after 100 ms. */
const IDLE_PROTOCOL = '/taskmesh-test/idle/1.0.0'

/** Largest frame the test server accepts, in bytes: small, so oversized frames are cheap. */
const SERVER_MAX_BYTES = 16 * 1024

describe('framed RPC over real libp2p streams', () => {
  let server: Libp2p
  let client: Libp2p
  const serverErrors: Error[] = []
  /** Released by the tests that stall the server. */
  let releaseStall: () => void = () => {}
  const stalled = () =>
    new Promise<void>((resolve) => {
      releaseStall = resolve
    })

  const dial = async (protocol = STEAL_PROTOCOL): Promise<Stream> =>
    client.dialProtocol(server.getMultiaddrs()[0], protocol)

  beforeAll(async () => {
    const suffix = `${process.pid}-${Date.now()}`
    server = await startMemoryNode(`rpc-server-${suffix}`)
    client = await startMemoryNode(`rpc-client-${suffix}`)
    await server.handle(STEAL_PROTOCOL, (stream) =>
      serveFrames<StealFrame, StealReply>(
        stream,
        stealFrameSchema,
        async (req, send) => {
          if (req.type === 'steal' && req.requestId === 'stall') await stalled()
          if (req.type === 'steal' && req.requestId === 'bad-reply') {
            return send({ type: 'grant', requestId: 'bad-reply' } as never)
          }
          if (req.type === 'steal' && req.requestId === 'throw') throw new Error('handler failed')
          await send({
            type: 'grant',
            requestId: req.requestId,
            tasks: [makeTask()],
            leases: [],
            ttlMs: 1000,
          })
        },
        { maxBytes: SERVER_MAX_BYTES, what: 'steal frame', onError: (err) => serverErrors.push(err) },
      ),
    )
    await server.handle(IDLE_PROTOCOL, (stream) =>
      serveFrames(stream, stealFrameSchema, async () => {}, {
        what: 'idle frame',
        signal: AbortSignal.timeout(100),
        onError: (err) => serverErrors.push(err),
      }),
    )
    await server.handle(SUBMIT_PROTOCOL, (stream) =>
      serveFrames<SubmitFrame, SubmitFrameReply>(
        stream,
        submitFrameSchema,
        async (req, send) => {
          if (req.type !== 'watch')
            return send({ type: 'error', requestId: req.requestId, code: 'X', message: 'no' })
          for (const taskId of req.taskIds) {
            await send({ type: 'result', requestId: req.requestId, taskId, record: null })
            if (req.requestId === 'slow') await stalled()
          }
        },
        { what: 'submit frame', onError: (err) => serverErrors.push(err) },
      ),
    )
  })

  afterAll(async () => {
    releaseStall()
    await client?.stop()
    await server?.stop()
  })

  async function expectGoodRoundTrip(requestId: string): Promise<void> {
    const reply = await requestOnce(await dial(), { ...makeStealRequest(), requestId }, stealReplySchema)
    expect(reply.type).toBe('grant')
    expect(reply.requestId).toBe(requestId)
    if (reply.type === 'grant') expect(reply.tasks).toEqual([makeTask()])
  }

  it('round-trips a request and its reply, and closes the stream', async () => {
    const stream = await dial()
    const reply = await requestOnce(stream, makeStealRequest(), stealReplySchema)
    expect(reply).toEqual({ type: 'grant', requestId: 'r1', tasks: [makeTask()], leases: [], ttlMs: 1000 })
    expect(stream.writeStatus).toBe('closed')
  })

  it('aborts on a malformed frame; the client sees an error and the server keeps serving', async () => {
    const before = serverErrors.length
    const bad = requestOnce(await dial(), { type: 'steal', requestId: 'x', max: 'lots' }, stealReplySchema)
    await expect(bad).rejects.toBeInstanceOf(RpcClosedError)
    expect(serverErrors[before]).toBeInstanceOf(InvalidMessageError)
    expect(serverErrors[before].message).toBe('steal frame: max: expected number, received string')

    const raw = await dial()
    const lp = lpStream(raw)
    await lp.write(new TextEncoder().encode('{not json'))
    await expect(lp.read()).rejects.toThrow()
    expect(serverErrors[before + 1].message).toBe('steal frame: not valid JSON')

    await expectGoodRoundTrip('after-bad')
  })

  it('refuses an oversized frame from the length prefix alone', async () => {
    const before = serverErrors.length
    const huge = { ...makeStealRequest(), requestId: 'x'.repeat(SERVER_MAX_BYTES) }
    await expect(requestOnce(await dial(), huge, stealReplySchema)).rejects.toBeInstanceOf(RpcClosedError)
    expect(serverErrors[before]).toBeInstanceOf(InvalidMessageError)
    expect(serverErrors[before].message).toMatch(`steal frame: over the limit of ${SERVER_MAX_BYTES} bytes`)
    await expectGoodRoundTrip('after-huge')
  })

  it('refuses to send a request over its own limit, without touching the network', async () => {
    const stream = await dial()
    await expect(requestOnce(stream, makeStealRequest(), stealReplySchema, { maxBytes: 10 })).rejects.toThrow(
      /request: \d+ bytes, over the limit of 10/,
    )
    expect(stream.status).not.toBe('open')
  })

  it('refuses a malformed reply with InvalidMessageError', async () => {
    const bad = requestOnce(
      await dial(),
      { ...makeStealRequest(), requestId: 'bad-reply' },
      stealReplySchema,
      {
        what: 'steal reply',
      },
    )
    await expect(bad).rejects.toThrow(InvalidMessageError)
    await expect(bad).rejects.toThrow(/^steal reply: tasks: expected array/)
  })

  it('survives a failing handler: the client sees an error, the next request works', async () => {
    const before = serverErrors.length
    await expect(
      requestOnce(await dial(), { ...makeStealRequest(), requestId: 'throw' }, stealReplySchema),
    ).rejects.toBeInstanceOf(RpcClosedError)
    expect(serverErrors[before].message).toBe('handler failed')
    await expectGoodRoundTrip('after-throw')
  })

  it('times out when no reply comes before the deadline', async () => {
    const stream = await dial()
    const started = Date.now()
    const stalled = requestOnce(stream, { ...makeStealRequest(), requestId: 'stall' }, stealReplySchema, {
      signal: AbortSignal.timeout(150),
    })
    await expect(stalled).rejects.toBeInstanceOf(RpcTimeoutError)
    expect(Date.now() - started).toBeLessThan(2000)
    expect(stream.status).not.toBe('open')
    releaseStall()
  })

  it('gives up on a client that never sends its request', async () => {
    const before = serverErrors.length
    const stream = await dial(IDLE_PROTOCOL)
    await expect(lpStream(stream).read()).rejects.toThrow()
    expect(serverErrors[before]).toBeInstanceOf(RpcTimeoutError)
    expect(serverErrors[before].message).toBe('idle frame: deadline passed')
  })

  it('streams many replies to a watch until the server closes', async () => {
    const ids = [makeTask(1).id, makeTask(2).id, makeTask(3).id]
    const replies: ResultReply[] = []
    for await (const reply of requestMany(
      await dial(SUBMIT_PROTOCOL),
      { type: 'watch', requestId: 'w', taskIds: ids },
      submitReplySchema,
    )) {
      if (reply.type === 'result') replies.push(reply)
    }
    expect(replies.map((r) => r.taskId)).toEqual(ids)
  })

  it('aborts the stream when the watcher stops reading early', async () => {
    const stream = await dial(SUBMIT_PROTOCOL)
    const ids = [makeTask(1).id, makeTask(2).id]
    const seen: string[] = []
    for await (const reply of requestMany(
      stream,
      { type: 'watch', requestId: 'slow', taskIds: ids },
      submitReplySchema,
    )) {
      seen.push(reply.type)
      break
    }
    expect(seen).toEqual(['result'])
    expect(stream.status).toBe('aborted')
    releaseStall()
  })
})

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

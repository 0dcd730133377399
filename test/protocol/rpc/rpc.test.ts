import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STEAL_PROTOCOL, SUBMIT_PROTOCOL } from '../../../src/protocol/constants.ts'
import { InvalidMessageError, RpcClosedError, RpcTimeoutError } from '../../../src/protocol/errors.ts'
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
    expect(serverErrors[before].message).toBe('steal frame: max: expected number, got "lots"')

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
    await expect(bad).rejects.toThrow(/^steal reply: tasks: is required: expected array/)
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

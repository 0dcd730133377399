import { getEventListeners, setMaxListeners } from 'node:events'
import type { Libp2p } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type StealFrame,
  type StealReply,
  stealFrameSchema,
  stealReplySchema,
} from '../../../src/protocol/messages/messages.ts'
import { requestOnce, serveFrames } from '../../../src/protocol/rpc/rpc.ts'
import { RpcSession, serveSession } from '../../../src/protocol/rpc/rpc-session.ts'
import { deadline, withDeadline } from '../../../src/protocol/rpc/signals.ts'
import { startMemoryNode } from '../memory-node.ts'

const aborted = (signal: AbortSignal) =>
  new Promise<unknown>((resolve) =>
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true }),
  )

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length

describe('deadline', () => {
  it('aborts with a TimeoutError after its deadline', async () => {
    const reason = (await aborted(deadline(10).signal)) as DOMException
    expect(reason.name).toBe('TimeoutError')
  })

  it('aborts with the reason of another signal that aborts first', async () => {
    const controller = new AbortController()
    const { signal } = deadline(60_000, undefined, controller.signal)
    const reason = aborted(signal)
    controller.abort(new Error('stop'))
    expect(((await reason) as Error).message).toBe('stop')
  })

  it('is aborted at once when another signal already is', () => {
    expect(deadline(60_000, AbortSignal.abort('x')).signal.aborted).toBe(true)
  })

  it('leaves no listener on the other signals once it aborted, by its deadline or by one of them', async () => {
    const shared = new AbortController()
    await aborted(deadline(5, shared.signal).signal)
    expect(listeners(shared.signal)).toBe(0)
    const other = new AbortController()
    const { signal } = deadline(60_000, shared.signal, other.signal)
    expect(listeners(shared.signal)).toBe(1)
    other.abort('stop')
    expect(signal.aborted).toBe(true)
    expect(listeners(shared.signal)).toBe(0)
    expect(listeners(other.signal)).toBe(0)
  })

  it('clear() unties it from the other signals without aborting, and it never fires after', async () => {
    const shared = new AbortController()
    const d = deadline(20, shared.signal)
    d.clear()
    d.clear()
    expect(listeners(shared.signal)).toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 40))
    expect(d.signal.aborted).toBe(false)
  })

  it('withDeadline leaves nothing on a shared signal after many settled calls, fulfilled or rejected', async () => {
    const shared = new AbortController()
    for (let i = 0; i < 100; i++) {
      await withDeadline(60_000, [shared.signal], async (signal) => {
        expect(signal.aborted).toBe(false)
        return i
      })
      await withDeadline(60_000, [shared.signal], async () => {
        throw new Error('failed')
      }).catch(() => undefined)
    }
    expect(listeners(shared.signal)).toBe(0)
  })
})

describe('no listener left behind by settled requests over real streams', () => {
  const SESSION = '/taskmesh-test/signals-session/1.0.0'
  const ONCE = '/taskmesh-test/signals-once/1.0.0'
  const MAX_BYTES = 16 * 1024
  /** The server's long-lived signal, handed to every served exchange (as a node's stop signal is). */
  const serverLife = new AbortController()
  let server: Libp2p
  let client: Libp2p

  const reply = async (req: StealFrame): Promise<StealReply> => ({
    type: 'renewed',
    requestId: req.requestId,
    accepted: [],
    rejected: [],
  })

  beforeAll(async () => {
    const suffix = `${process.pid}-${Date.now()}`
    server = await startMemoryNode(`signals-server-${suffix}`)
    client = await startMemoryNode(`signals-client-${suffix}`)
    await server.handle(SESSION, (stream) =>
      serveSession(stream, stealFrameSchema, reply, { maxBytes: MAX_BYTES, what: 'test frame' }),
    )
    await server.handle(ONCE, (stream) =>
      serveFrames<StealFrame, StealReply>(
        stream,
        stealFrameSchema,
        async (req, send) => send(await reply(req)),
        { maxBytes: MAX_BYTES, what: 'test frame', signal: serverLife.signal },
      ),
    )
  })

  afterAll(async () => {
    await client?.stop()
    await server?.stop()
  })

  it('a session request under a deadline on a long-lived signal (the record store) unties at once', async () => {
    const stopping = new AbortController()
    setMaxListeners(Number.POSITIVE_INFINITY, stopping.signal) // 40 in flight at once, as the replicator's
    const session = new RpcSession<StealReply>({
      open: (signal) => client.dialProtocol(server.getMultiaddrs()[0], SESSION, { signal }),
      replySchema: stealReplySchema,
      maxBytes: MAX_BYTES,
      what: 'test reply',
    })
    const requests = Array.from({ length: 40 }, (_, i) =>
      withDeadline(30_000, [stopping.signal], (signal) =>
        session.request({ type: 'renew', requestId: `r${i}`, leases: [] }, signal),
      ),
    )
    const replies = await Promise.all(requests)
    expect(replies.map((r) => r.requestId)).toEqual(requests.map((_, i) => `r${i}`))
    expect(listeners(stopping.signal)).toBe(0)
    session.close()
  })

  it("a served request's read deadline unties from the server's signal once the request is read", async () => {
    for (let i = 0; i < 30; i++) {
      const stream = await client.dialProtocol(server.getMultiaddrs()[0], ONCE)
      const got = await requestOnce(
        stream,
        { type: 'renew', requestId: `o${i}`, leases: [] },
        stealReplySchema,
      )
      expect(got.requestId).toBe(`o${i}`)
    }
    expect(listeners(serverLife.signal)).toBe(0)
  })
})

import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeMessage } from '../../../src/protocol/codec.ts'
import { InvalidMessageError, RpcClosedError, RpcTimeoutError } from '../../../src/protocol/errors.ts'
import {
  type StealFrame,
  type StealReply,
  stealFrameSchema,
  stealReplySchema,
} from '../../../src/protocol/messages/messages.ts'
import { requestOnce } from '../../../src/protocol/rpc/rpc.ts'
import { RpcSession, serveSession } from '../../../src/protocol/rpc/rpc-session.ts'
import { startMemoryNode } from '../memory-node.ts'

const PROTOCOL = '/taskmesh-test/session/1.0.0'
/** A server that closes idle streams after 200 ms. */
const IDLE_PROTOCOL = '/taskmesh-test/session-idle/1.0.0'
const MAX_BYTES = 16 * 1024

/** A renew whose `leases` array names how long (ms) the server should take, or asks it to misbehave. */
const renew = (requestId: string): StealFrame => ({ type: 'renew', requestId, leases: [] })

describe('session streams over real libp2p', () => {
  let server: Libp2p
  let client: Libp2p
  /** Inbound streams the server has served so far. */
  let served = 0
  /** Called when a served stream closes. */
  let onServerClose: (() => void) | undefined
  const serverErrors: Error[] = []
  const held = new Map<string, () => void>()
  const holding = new Map<string, () => void>()
  /** Resolves once the server's handler is holding request `id`. */
  const whenHeld = (id: string) =>
    held.has(id) ? Promise.resolve() : new Promise<void>((resolve) => holding.set(id, resolve))

  const handler = async (req: StealFrame): Promise<StealReply> => {
    if (req.requestId.startsWith('hold')) {
      await new Promise<void>((resolve) => {
        held.set(req.requestId, resolve)
        holding.get(req.requestId)?.()
      })
    }
    if (req.requestId === 'throw') throw new Error('handler failed')
    return { type: 'renewed', requestId: req.requestId, accepted: [], rejected: [] }
  }

  const session = (protocol = PROTOCOL, idleMs?: number) =>
    new RpcSession<StealReply>({
      open: (signal) => client.dialProtocol(server.getMultiaddrs()[0], protocol, { signal }),
      replySchema: stealReplySchema,
      maxBytes: MAX_BYTES,
      what: 'test reply',
      idleMs,
    })

  beforeAll(async () => {
    const suffix = `${process.pid}-${Date.now()}`
    server = await startMemoryNode(`session-server-${suffix}`)
    client = await startMemoryNode(`session-client-${suffix}`)
    const serve = (idleMs?: number) => (stream: Stream) => {
      served++
      stream.addEventListener('close', () => onServerClose?.(), { once: true })
      void serveSession(stream, stealFrameSchema, handler, {
        maxBytes: MAX_BYTES,
        what: 'test frame',
        idleMs,
        onError: (err) => serverErrors.push(err),
      })
    }
    await server.handle(PROTOCOL, serve())
    await server.handle(IDLE_PROTOCOL, serve(200))
    await server.start()
    await client.start()
  })

  afterAll(async () => {
    await client.stop()
    await server.stop()
  })

  it('carries many requests on one stream and pairs replies by id, whatever their order', async () => {
    const s = session()
    const before = served
    const slow = s.request(renew('hold-1'))
    const fast = await Promise.all(Array.from({ length: 20 }, (_, i) => s.request(renew(`r${i}`))))
    expect(fast.map((r) => r.requestId)).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`))
    await whenHeld('hold-1')
    held.get('hold-1')?.()
    expect((await slow).requestId).toBe('hold-1')
    expect(served - before).toBe(1)
    s.close()
  })

  it('a request that times out fails alone; the stream keeps serving the next ones', async () => {
    const s = session()
    const before = served
    const late = s.request(renew('hold-2'), AbortSignal.timeout(50))
    await expect(late).rejects.toBeInstanceOf(RpcTimeoutError)
    expect((await s.request(renew('after'))).requestId).toBe('after')
    await whenHeld('hold-2')
    held.get('hold-2')?.() // its reply comes now and is dropped
    expect((await s.request(renew('after-late'))).requestId).toBe('after-late')
    expect(served - before).toBe(1)
    s.close()
  })

  it('keeps deadlines itself: each request past its timeoutMs fails alone, the earliest first', async () => {
    const s = session()
    const before = served
    // a long deadline first, then a shorter one: the session's timer must come due for the shorter
    const patient = s.request(renew('hold-d1'), undefined, { timeoutMs: 30_000 })
    const started = performance.now()
    const hasty = s.request(renew('hold-d2'), undefined, { timeoutMs: 60 })
    await expect(hasty).rejects.toBeInstanceOf(RpcTimeoutError)
    expect(performance.now() - started).toBeLessThan(1_000)
    // the timer is set again for a request made after it fired
    const later = s.request(renew('hold-d3'), undefined, { timeoutMs: 60 })
    await expect(later).rejects.toThrow('test reply: deadline passed')
    // the patient one is still waiting, and is answered
    await whenHeld('hold-d1')
    held.get('hold-d1')?.()
    expect((await patient).requestId).toBe('hold-d1')
    for (const id of ['hold-d2', 'hold-d3']) {
      await whenHeld(id)
      held.get(id)?.() // their replies come now and are dropped
    }
    expect((await s.request(renew('after-deadlines'))).requestId).toBe('after-deadlines')
    expect(served - before).toBe(1)
    s.close()
  }, 3_000)

  it('a stream the server dropped fails what was on it; the next request opens a fresh one, and retry repeats once', async () => {
    const s = session(IDLE_PROTOCOL)
    const closed = new Promise<void>((resolve) => {
      onServerClose = resolve
    })
    expect((await s.request(renew('first'))).requestId).toBe('first')
    const before = served
    // the server closes the idle stream after 200 ms; the session finds out (or the retry does)
    await closed
    expect((await s.request(renew('second'), undefined, { retry: true })).requestId).toBe('second')
    expect(served - before).toBe(1)
    s.close()
  })

  it('a failing handler or a malformed frame aborts the stream, and pending requests fail with it', async () => {
    const s = session()
    const pending = s.request(renew('hold-3'))
    const failing = s.request(renew('throw'))
    await expect(failing).rejects.toBeInstanceOf(RpcClosedError)
    await expect(pending).rejects.toBeInstanceOf(RpcClosedError)
    await whenHeld('hold-3')
    held.get('hold-3')?.()
    expect(serverErrors.at(-1)?.message).toMatch('handler failed')
    // junk on a raw stream: aborted without a reply, and the server keeps serving
    const raw = await client.dialProtocol(server.getMultiaddrs()[0], PROTOCOL)
    const lp = lpStream(raw)
    await lp.write(encodeMessage({ type: 'renew', requestId: 'x', leases: 'not a list' }))
    await expect(lp.read()).rejects.toThrow()
    expect(serverErrors.at(-1)).toBeInstanceOf(InvalidMessageError)
    expect((await s.request(renew('still-served'))).requestId).toBe('still-served')
    s.close()
  })

  it('serves a client that sends one request per stream and half-closes', async () => {
    const stream = await client.dialProtocol(server.getMultiaddrs()[0], PROTOCOL)
    const reply = await requestOnce<StealReply>(stream, renew('once'), stealReplySchema, {
      maxBytes: MAX_BYTES,
    })
    expect(reply.requestId).toBe('once')
  })

  it('refuses a request id already in flight and anything after close', async () => {
    const s = session()
    const first = s.request(renew('hold-4'))
    await expect(s.request(renew('hold-4'))).rejects.toBeInstanceOf(InvalidMessageError)
    await whenHeld('hold-4')
    held.get('hold-4')?.()
    await first
    s.close()
    await expect(s.request(renew('closed'))).rejects.toBeInstanceOf(RpcClosedError)
  })
})

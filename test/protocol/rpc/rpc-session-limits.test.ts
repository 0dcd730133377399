import type { Libp2p } from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import { noise } from '@libp2p/noise'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeMessage } from '../../../src/protocol/codec.ts'
import { InboundBudgetError, RpcTimeoutError } from '../../../src/protocol/errors.ts'
import {
  type StealFrame,
  type StealReply,
  stealFrameSchema,
} from '../../../src/protocol/messages/messages.ts'
import { InboundBudget } from '../../../src/protocol/rpc/inbound-budget.ts'
import { serveSession } from '../../../src/protocol/rpc/rpc-session.ts'
import { varint } from '../../integration/helpers.ts'
import { makeStealRequest } from '../fixtures.ts'

const SESSION = '/taskmesh-test/session/1.0.0'

const startNode = (name: string) =>
  createLibp2p({
    addresses: { listen: [`/memory/${name}`] },
    transports: [memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  })

const frame = (value: unknown) => {
  const body = encodeMessage(value)
  return Uint8Array.from([...varint(body.byteLength), ...body])
}

/** Polls `predicate` every 10 ms for up to 5 s. */
async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('inbound limits of session streams (serveSession)', () => {
  let server: Libp2p
  let client: Libp2p
  const errors: Error[] = []
  const budget = new InboundBudget(2_000)

  beforeAll(async () => {
    const suffix = `${process.pid}-${Date.now()}`
    server = await startNode(`session-server-${suffix}`)
    client = await startNode(`session-client-${suffix}`)
    await server.handle(SESSION, (stream) =>
      serveSession<StealFrame, StealReply>(
        stream,
        stealFrameSchema,
        (req) => ({ type: 'released', requestId: req.requestId, released: [] }),
        { what: 'session frame', idleMs: 200, budget, onError: (err) => errors.push(err) },
      ),
    )
  })

  afterAll(async () => {
    await client?.stop()
    await server?.stop()
  })

  const dial = () => client.dialProtocol(server.getMultiaddrs()[0], SESSION)

  it('charges only the frame being received: complete frames are answered and settle their bytes', async () => {
    const stream = await dial()
    const lp = lpStream(stream)
    for (const id of ['a', 'b', 'c']) {
      await lp.write(encodeMessage({ ...makeStealRequest(), requestId: id }))
      const reply = JSON.parse(new TextDecoder().decode((await lp.read()).subarray()))
      expect(reply.requestId).toBe(id)
    }
    expect(budget.usedBytes).toBe(0)
    stream.send(Uint8Array.from([...varint(1_000), ...new Uint8Array(300).fill(0x20)])) // part of a frame
    await until(() => budget.usedBytes === 302, 'the partial frame is charged')
    stream.abort(new Error('done'))
    await until(() => budget.usedBytes === 0 && budget.streams === 0, 'the aborted stream is released')
  })

  it('aborts a stream stuck in the middle of a frame after idleMs; closes an idle one politely', async () => {
    const before = errors.length
    const stuck = await dial()
    stuck.send(frame({ ...makeStealRequest(), requestId: 'first' }).subarray(0, 20))
    const idle = await dial()
    const [stuckEnd, idleEnd] = await Promise.all(
      [stuck, idle].map((s) =>
        lpStream(s)
          .read({ signal: AbortSignal.timeout(5_000) })
          .then(
            () => 'replied',
            (err: Error) => err.name,
          ),
      ),
    )
    expect(stuckEnd).not.toBe('TimeoutError')
    expect(stuck.status).toBe('reset')
    expect(errors.slice(before).map((e) => e.constructor)).toEqual([RpcTimeoutError])
    expect(errors[before].message).toBe('session frame: no complete frame for 200 ms')
    expect(idleEnd).not.toBe('TimeoutError')
    expect(idle.remoteWriteStatus).toBe('closed') // the server closed its side; no error
    expect(budget.usedBytes).toBe(0)
  })

  it('over the budget, the session stream holding the most is aborted', async () => {
    const before = errors.length
    const hog = await dial()
    hog.send(Uint8Array.from([...varint(5_000), ...new Uint8Array(2_100).fill(0x20)]))
    const end = await lpStream(hog)
      .read({ signal: AbortSignal.timeout(5_000) })
      .then(
        () => 'replied',
        (err: Error) => err.name,
      )
    expect(end).not.toBe('TimeoutError')
    expect(errors[before]).toBeInstanceOf(InboundBudgetError)
    expect(budget.usedBytes).toBe(0)
  })
})

import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/log/logger.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { encodeMessage } from '../../src/protocol/codec.ts'
import {
  BEACON_PROTOCOL,
  BEACON_PROTOCOL_1_1,
  CUSTODY_PROTOCOL,
  FETCH_PROTOCOL,
  MAX_BEACON_BYTES,
  MAX_FRAME_BYTES,
  STEAL_PROTOCOL,
  STEAL_PROTOCOL_1_1,
  SUBMIT_PROTOCOL,
} from '../../src/protocol/constants.ts'
import { stealReplySchema, submitReplySchema } from '../../src/protocol/messages/messages.ts'
import { requestOnce } from '../../src/protocol/rpc/rpc.ts'
import {
  deadline,
  dialNode,
  JUNK,
  type RawPeer,
  startRawPeer,
  stopAll,
  validBeacon,
  varint,
} from './helpers.ts'

interface FrameCase {
  name: string
  /** Sends the bad input on a fresh stream (it does not close the stream's write side). */
  send(stream: { send(data: Uint8Array): boolean }): void
}

/** A length-prefixed frame, as the protocols expect. */
function lpFrame(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from([...varint(bytes.byteLength), ...bytes])
}

/** An offer of nothing (steal 1.1): well formed, and answered there. */
const OFFER = { type: 'offer', requestId: 'x', tasks: [], leases: [], ttlMs: 1000 }

const FRAME_CASES: Record<string, FrameCase[]> = {
  [STEAL_PROTOCOL]: [
    { name: 'a junk frame', send: (s) => s.send(lpFrame(JUNK)) },
    {
      name: 'a length prefix over the frame limit',
      send: (s) => s.send(Uint8Array.from([...varint(MAX_FRAME_BYTES + 1), 0x7b, 0x7d])),
    },
    {
      name: 'valid JSON that is not a steal frame',
      send: (s) => s.send(lpFrame(encodeMessage({ type: 'steal', requestId: 'x', max: 0, please: true }))),
    },
    {
      name: 'an offer, which only 1.1 carries',
      send: (s) => s.send(lpFrame(encodeMessage(OFFER))),
    },
  ],
  [STEAL_PROTOCOL_1_1]: [
    { name: 'a junk frame', send: (s) => s.send(lpFrame(JUNK)) },
    {
      name: 'an offer whose lease carries no proof',
      send: (s) => {
        const lease = {
          taskId: 'bafkreihl7o7rgktm2z24whumz623twaktnmgp6idlmcme42etoclngg4hi',
          epoch: 1,
          expiresAt: 0,
        }
        s.send(lpFrame(encodeMessage({ ...OFFER, leases: [lease] })))
      },
    },
    {
      name: 'an offer with a negative lease time',
      send: (s) => s.send(lpFrame(encodeMessage({ ...OFFER, ttlMs: -1 }))),
    },
  ],
  [CUSTODY_PROTOCOL]: [
    { name: 'a junk frame', send: (s) => s.send(lpFrame(JUNK)) },
    {
      name: 'a length prefix over the frame limit',
      send: (s) => s.send(Uint8Array.from([...varint(MAX_FRAME_BYTES + 1), 0x7b, 0x7d])),
    },
    {
      name: 'valid JSON that is not a custody frame',
      send: (s) =>
        s.send(lpFrame(encodeMessage({ type: 'hold', requestId: 'x', custodians: [], tasks: [] }))),
    },
  ],
  [FETCH_PROTOCOL]: [
    { name: 'a junk frame', send: (s) => s.send(lpFrame(JUNK)) },
    {
      name: 'a fetch of no task',
      send: (s) => s.send(lpFrame(encodeMessage({ type: 'fetch', requestId: 'x', ids: [] }))),
    },
    {
      name: 'a fetch of something not a task id',
      send: (s) => s.send(lpFrame(encodeMessage({ type: 'fetch', requestId: 'x', ids: ['../etc'] }))),
    },
  ],
  [BEACON_PROTOCOL]: [
    { name: 'a junk frame', send: (s) => s.send(lpFrame(JUNK)) },
    {
      name: 'a beacon over the size limit (every field otherwise valid)',
      send: (s) => {
        const types = Array.from(
          { length: 256 },
          (_, i) => `t${String(i).padStart(3, '0')}-${'x'.repeat(58)}`,
        )
        const bytes = encodeMessage(validBeacon({ types }))
        expect(bytes.byteLength).toBeGreaterThan(MAX_BEACON_BYTES)
        s.send(lpFrame(bytes))
      },
    },
    {
      name: 'a beacon that breaks the schema (slots a string, queued negative)',
      send: (s) => s.send(lpFrame(encodeMessage(validBeacon({ slots: 'many', queued: -1 })))),
    },
    {
      name: 'a beacon naming its queued types, which only 1.1 carries',
      send: (s) => s.send(lpFrame(encodeMessage(validBeacon({ queuedTypes: ['sleep'] })))),
    },
  ],
  [BEACON_PROTOCOL_1_1]: [
    { name: 'a junk frame', send: (s) => s.send(lpFrame(JUNK)) },
    {
      name: 'a beacon naming more queued types than it may',
      send: (s) => {
        const queuedTypes = Array.from({ length: 17 }, (_, i) => `t${i}`)
        s.send(lpFrame(encodeMessage(validBeacon({ queued: 17, queuedTypes }))))
      },
    },
    {
      name: 'a beacon whose queued types are an empty list',
      send: (s) => s.send(lpFrame(encodeMessage(validBeacon({ queuedTypes: [] })))),
    },
    {
      name: 'a beacon with a queued type that is no name',
      send: (s) => s.send(lpFrame(encodeMessage(validBeacon({ queuedTypes: ['Not A Name!'] })))),
    },
  ],
  [SUBMIT_PROTOCOL]: [
    { name: 'a junk frame', send: (s) => s.send(lpFrame(JUNK)) },
    {
      name: 'a length prefix over the frame limit',
      send: (s) => s.send(Uint8Array.from([...varint(2 ** 31), 0x7b, 0x7d])),
    },
    {
      name: 'valid JSON that is not a submit frame',
      send: (s) => s.send(lpFrame(encodeMessage({ type: 'submit', requestId: 'x', tasks: [] }))),
    },
  ],
}

describe('hostile stream frames', () => {
  let node: TaskmeshNode | undefined
  let peer: RawPeer | undefined
  /** What the node logged, parsed. */
  let logged: Array<Record<string, unknown>> = []

  beforeEach(async () => {
    logged = []
    const destination = { write: (line: string) => logged.push(JSON.parse(line)) }
    node = await TaskmeshNode.create({
      slots: 1,
      logger: createLogger({ level: 'debug', format: 'json', destination }),
    })
    peer = await startRawPeer()
    await dialNode(peer, node)
  })

  afterEach(async () => {
    await stopAll([peer, node])
    peer = undefined
    node = undefined
  })

  for (const protocol of Object.keys(FRAME_CASES)) {
    it(`${protocol}: junk, an oversized length prefix and a wrong-schema frame are each cut off without a reply`, async () => {
      const n = node!
      const p = peer!
      for (const c of FRAME_CASES[protocol]) {
        const stream = await p.dialProtocol(multiaddr(n.multiaddrs[0]), protocol)
        c.send(stream)
        // The node must end the stream without answering, promptly (its own read deadline is
        // 10 s; this one is shorter, so a node that just waited would fail here).
        const signal = AbortSignal.timeout(8_000)
        const reply = await lpStream(stream)
          .read({ signal })
          .then(
            (frame) => new TextDecoder().decode(frame.subarray()),
            (err: Error) => err,
          )
        expect(reply, `${c.name}: the node replied`).toBeInstanceOf(Error)
        expect(signal.aborted, `${c.name}: the node left the stream open`).toBe(false)
        stream.abort(new Error('done'))
        // the node says which peer sent what on which protocol: the peer's first bad frame as a
        // warning (a bug or an attack), those in the same second at debug (no flood of warnings)
        const from = p.peerId.toString()
        const said = logged.filter((l) => l.msg === 'inbound stream aborted')
        expect(said, `${c.name}: not logged`).toEqual([
          expect.objectContaining({ protocol, from, error: expect.stringMatching(/\S/) }),
        ])
        if (c === FRAME_CASES[protocol][0]) expect(said[0]).toMatchObject({ level: 'warn', heldBack: 0 })
        else expect(said[0].level).toMatch(/^(warn|debug)$/)
        logged = []
      }
      expect(n.libp2p.status).toBe('started')
    })
  }

  it('after the bad frames, an honest steal and an honest submit are still served', async () => {
    const n = node!
    const p = peer!
    const addr = multiaddr(n.multiaddrs[0])
    for (const protocol of Object.keys(FRAME_CASES)) {
      for (const c of FRAME_CASES[protocol]) {
        const stream = await p.dialProtocol(addr, protocol)
        c.send(stream)
        await lpStream(stream)
          .read({ signal: AbortSignal.timeout(8_000) })
          .catch(() => undefined)
      }
    }

    const grant = await requestOnce(
      await p.dialProtocol(addr, STEAL_PROTOCOL),
      {
        type: 'steal',
        requestId: 'honest-steal',
        max: 1,
        offer: { types: ['echo'], labels: [], slots: 1, memoryMb: 1024 },
        queued: 0,
        queuedWorkMs: 0,
        speed: 1,
        freeSlots: 1,
      },
      stealReplySchema,
    )
    expect(grant).toMatchObject({ type: 'grant', requestId: 'honest-steal' })

    const submitted = await requestOnce(
      await p.dialProtocol(addr, SUBMIT_PROTOCOL),
      { type: 'submit', requestId: 'honest-submit', tasks: [{ type: 'echo', input: 42 }] },
      submitReplySchema,
    )
    expect(submitted).toMatchObject({ type: 'submitted', requestId: 'honest-submit' })
    if (submitted.type !== 'submitted') throw new Error('unreachable')
    expect(submitted.ids).toHaveLength(1)
    const r = await n.waitResult(submitted.ids[0], deadline())
    expect(r).toMatchObject({ status: 'succeeded', output: 42, executor: n.peerId })
  })
})

describe('idle streams', () => {
  let node: TaskmeshNode | undefined
  let peer: RawPeer | undefined

  afterEach(async () => {
    await stopAll([peer, node])
    peer = undefined
    node = undefined
  })

  it('a steal or submit stream that sends nothing, or half a frame, is closed after requestTimeoutMs', async () => {
    const n = await TaskmeshNode.create({ slots: 1, requestTimeoutMs: 300 })
    node = n
    const p = await startRawPeer()
    peer = p
    await dialNode(p, n)
    const addr = multiaddr(n.multiaddrs[0])
    const streams = []
    for (const protocol of [STEAL_PROTOCOL, SUBMIT_PROTOCOL]) {
      streams.push(await p.dialProtocol(addr, protocol)) // silent
      const half = await p.dialProtocol(addr, protocol)
      half.send(Uint8Array.from([...varint(1000), 0x7b])) // announces 1000 bytes, sends 1
      streams.push(half)
    }
    // the node's deadline is 300 ms; ours is far longer, so a node that never closed them fails here
    const signal = AbortSignal.timeout(8_000)
    const outcomes = await Promise.allSettled(streams.map((s) => lpStream(s).read({ signal })))
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected'])
    expect(signal.aborted, 'the node left an idle stream open').toBe(false)
    expect(n.libp2p.status).toBe('started')
  })
})

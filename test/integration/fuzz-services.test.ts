import { multiaddr } from '@multiformats/multiaddr'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { STEAL_PROTOCOL, SUBMIT_PROTOCOL } from '../../src/protocol/constants.ts'
import { stealReplySchema, submitReplySchema } from '../../src/protocol/messages/messages.ts'
import { requestOnce } from '../../src/protocol/rpc/rpc.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { stealFrames } from '../protocol/arbitraries.ts'
import { submitFrames } from '../protocol/submit-arbitraries.ts'
import { deadline, dialNode, type RawPeer, startRawPeer, stopAll } from './helpers.ts'

/** The reply type each request type must get (or `error`, on the submit protocol). */
const REPLY_OF: Record<string, string> = {
  steal: 'grant',
  renew: 'renewed',
  complete: 'completed',
  release: 'released',
  submit: 'submitted',
  result: 'result',
  status: 'status',
  cancel: 'cancelled',
  state: 'state',
  story: 'story',
}

/**
 * Arbitrary well-formed requests of both stream protocols, from a peer the node never heard of,
 * against a real node: each gets a well-formed reply of the right type (or, on the submit protocol,
 * an error reply with a code), and the node keeps working. `watch` and waiting `result` requests
 * are left out: they hold their stream until a result lands.
 */
describe('fuzzing the stream protocols of a real node', () => {
  let nodes: TaskmeshNode[] = []
  let node: TaskmeshNode
  let peer: RawPeer

  beforeAll(async () => {
    // a mesh of two, so lookups of unknown tasks end when the DHT peer answers (a lone node's
    // lookup waits out its deadline)
    nodes = await startLocalMesh({ nodes: 2, slots: 1 })
    node = nodes[0]
    peer = await startRawPeer()
    await dialNode(peer, node)
  })

  afterAll(async () => {
    await stopAll([peer, ...nodes])
  })

  const ask = async (protocol: string, request: { type: string; requestId: string }) => {
    const stream = await peer.dialProtocol(multiaddr(node.multiaddrs[0]), protocol)
    const schema = protocol === STEAL_PROTOCOL ? stealReplySchema : submitReplySchema
    return requestOnce<{ type: string; requestId: string; code?: string }>(stream, request, schema, {
      signal: AbortSignal.timeout(10_000),
    })
  }

  it('any steal, renew, complete or release gets its well-formed reply', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(...Object.values(stealFrames)), async (request) => {
        const reply = await ask(STEAL_PROTOCOL, request)
        expect(reply.type).toBe(REPLY_OF[request.type])
        expect(reply.requestId).toBe(request.requestId)
      }),
      { numRuns: 40 },
    )
  })

  it('any submit, result, status, cancel, state or story gets its well-formed reply or an error with a code', async () => {
    const { watch: _watch, result, ...rest } = submitFrames
    const noWait = result.map(({ wait: _wait, ...r }) => r)
    await fc.assert(
      fc.asyncProperty(fc.oneof(noWait, ...Object.values(rest)), async (request) => {
        const reply = await ask(SUBMIT_PROTOCOL, request)
        expect(reply.requestId).toBe(request.requestId)
        if (reply.type === 'error') expect(reply.code).toMatch(/^ERR_[A-Z_]+$/)
        else expect(reply.type).toBe(REPLY_OF[request.type])
      }),
      { numRuns: 40 },
    )
    expect(node.libp2p.status).toBe('started')
    const handle = await node.submit({ type: 'echo', input: 'after the fuzz' })
    expect((await handle.result(deadline())).output).toBe('after the fuzz')
  })
})

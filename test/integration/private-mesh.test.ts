import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../../scripts/chaos/daemons.ts'
import { TaskmeshClient } from '../../src/client/taskmesh-client.ts'
import { createLogger } from '../../src/log/logger.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { generateSwarmKey } from '../../src/node/wire/swarm-key.ts'
import { connectAll, waitForMesh } from '../../src/simulation/mesh.ts'
import { deadline, sleepSpec, stopAll } from './helpers.ts'

/** How long a dial that should fail is given (it fails well before, or at, this deadline). */
const DIAL_MS = 3_000

describe('private mesh (--swarm-key)', () => {
  const mesh = generateSwarmKey()
  let a: TaskmeshNode
  let b: TaskmeshNode
  let otherKey: TaskmeshNode
  let noKey: TaskmeshNode

  beforeAll(async () => {
    ;[a, b, otherKey, noKey] = await Promise.all([
      TaskmeshNode.create({ slots: 1, swarmKey: mesh }),
      TaskmeshNode.create({ slots: 1, swarmKey: mesh, labels: ['gpu'] }),
      TaskmeshNode.create({ slots: 1, swarmKey: generateSwarmKey(), labels: ['gpu'] }),
      TaskmeshNode.create({ slots: 1, labels: ['gpu'] }),
    ])
  })

  afterAll(async () => {
    await stopAll([a, b, otherKey, noKey])
  })

  it('two nodes with the same key form a mesh and exchange tasks', async () => {
    await connectAll([a, b])
    await waitForMesh([a, b])
    // only B offers gpu: A's task must travel to B (steal) and its result back to A
    const [h] = await a.submitMany([sleepSpec(5, 'stolen', { resources: { labels: ['gpu'] } })])
    const record = await h.result(deadline())
    expect(record).toMatchObject({ status: 'succeeded', output: 'stolen', executor: b.peerId })
    // a light client holding the key submits over the submit protocol and reads the result
    const client = await TaskmeshClient.connect(b.multiaddrs[0], { swarmKey: mesh })
    try {
      const [id] = await client.submit([{ type: 'echo', input: 'keyed client' }])
      expect(await client.result(id, { wait: true })).toMatchObject({
        status: 'succeeded',
        output: 'keyed client',
      })
    } finally {
      await client.close()
    }
  })

  it('a node with another key, or with none, cannot connect either way, so no data passes', async () => {
    // every attempt at once: a wrong key garbles the first bytes, which fails the handshake at once
    // or leaves it waiting for bytes that never come until the dial's deadline
    const signal = () => AbortSignal.timeout(DIAL_MS)
    const attempts = [otherKey, noKey].flatMap((outsider) => [
      outsider.libp2p.dial(multiaddr(a.multiaddrs[0]), { signal: signal() }),
      a.libp2p.dial(multiaddr(outsider.multiaddrs[0]), { signal: signal() }),
      TaskmeshClient.connect(a.multiaddrs[0], { signal: signal() }), // a light client without the key
    ])
    const outcomes = await Promise.allSettled(attempts)
    expect(outcomes.map((o) => o.status)).toEqual(attempts.map(() => 'rejected'))
    for (const outsider of [otherKey, noKey]) {
      expect(outsider.libp2p.getConnections()).toEqual([])
      expect(a.libp2p.getConnections(outsider.libp2p.peerId)).toEqual([])
      expect(b.libp2p.getConnections(outsider.libp2p.peerId)).toEqual([])
      expect(outsider.knownPeers()).toEqual([])
      expect(a.knownPeers()).not.toContain(outsider.peerId)
    }
    // the mesh did not notice: A's next gpu task still goes to B, never to an outsider
    const [h] = await a.submitMany([sleepSpec(5, 'again', { resources: { labels: ['gpu'] } })])
    expect((await h.result(deadline())).executor).toBe(b.peerId)
  })

  it('a light client without the key, or with another, is told the key may be why', async () => {
    const signal = () => AbortSignal.timeout(DIAL_MS)
    const [none, other] = await Promise.allSettled([
      TaskmeshClient.connect(a.multiaddrs[0], { signal: signal() }),
      TaskmeshClient.connect(a.multiaddrs[0], { signal: signal(), swarmKey: generateSwarmKey() }),
    ])
    expect(none.status === 'rejected' && String(none.reason.message)).toMatch(
      /^cannot reach peer .*\(is it a private mesh\? pass its swarm key: --swarm-key <file>, the `swarmKey` option\)$/,
    )
    expect(other.status === 'rejected' && String(other.reason.message)).toMatch(
      /\(is it a mesh with another swarm key\? the node and the client must use the same key\)$/,
    )
  })

  it('the node dialled by a peer with another key says so, once a minute at most', async () => {
    const logged: Array<Record<string, unknown>> = []
    const logger = createLogger({
      level: 'warn',
      format: 'json',
      destination: { write: (line: string) => logged.push(JSON.parse(line)) },
    })
    const dialled = await TaskmeshNode.create({ slots: 1, swarmKey: mesh, logger })
    try {
      const failed = () => logged.filter((l) => l.msg === 'inbound connection failed its handshake')
      // the garbled handshake fails at once, or when the dialler gives up (at most DIAL_MS)
      const dial = () =>
        otherKey.libp2p.dial(multiaddr(dialled.multiaddrs[0]), { signal: AbortSignal.timeout(DIAL_MS) })
      await expect(dial()).rejects.toThrow()
      await eventually(() => (failed().length > 0 ? true : undefined), DIAL_MS, 'the failure logged')
      expect(failed()).toEqual([
        expect.objectContaining({
          error: 'EncryptionFailedError',
          heldBack: 0,
          hint: 'a peer with another swarm key, or something that is not a taskmesh peer, dialled this node',
        }),
      ])
      await expect(dial()).rejects.toThrow()
      expect(failed()).toHaveLength(1) // the second within the minute is held back
      expect(dialled.libp2p.getConnections()).toEqual([])
    } finally {
      await dialled.stop()
    }
  })
})

import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveNodeOptions } from '../../src/node/options.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { DEFAULT_MAX_CONNECTIONS } from '../../src/node/wire/libp2p-factory.ts'
import { InvalidTaskError } from '../../src/task/errors.ts'
import { stopAll } from '../integration/helpers.ts'

describe('maxConnections', () => {
  let nodes: TaskmeshNode[] = []
  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('defaults to DEFAULT_MAX_CONNECTIONS and refuses what is not a positive integer, naming the field', () => {
    expect(resolveNodeOptions({}).maxConnections).toBe(DEFAULT_MAX_CONNECTIONS)
    for (const bad of [0, -1, 1.5]) {
      expect(() => resolveNodeOptions({ maxConnections: bad })).toThrow(InvalidTaskError)
      expect(() => resolveNodeOptions({ maxConnections: bad })).toThrow(/must be a positive integer/)
    }
  })

  it("reaches libp2p's connection manager: a node at its limit refuses another inbound connection", async () => {
    const full = await TaskmeshNode.create({ maxConnections: 1, slots: 1 })
    const first = await TaskmeshNode.create({ slots: 1 })
    const second = await TaskmeshNode.create({ slots: 1 })
    nodes = [full, first, second]
    const addr = multiaddr(full.multiaddrs[0])
    await first.libp2p.dial(addr)
    await expect(second.libp2p.dial(addr, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow()
    expect(full.libp2p.getConnections().map((c) => c.remotePeer.toString())).toEqual([first.peerId])
  })
})

import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { hardLimit } from '../../src/node/wire/libp2p-factory.ts'
import { stopAll, WAIT_MS } from './helpers.ts'

/** Resolves once `node` hears the beacon of at least one peer; fails after WAIT_MS. */
const joined = (node: TaskmeshNode) => node.waitForPeers(1, AbortSignal.timeout(WAIT_MS))

describe('joining through full nodes', () => {
  let nodes: TaskmeshNode[] = []
  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('every node of a mesh larger than the limit joins through the same two seeds', async () => {
    const limit = 3
    const count = limit + 9 // more than the seeds could hold at their limit alone
    for (let i = 0; i < count; i++) {
      const bootstrap = nodes.slice(0, 2).map((n) => n.multiaddrs[0])
      nodes.push(
        await TaskmeshNode.create({
          slots: 1,
          maxConnections: limit,
          bootstrap,
          listen: ['/ip4/127.0.0.1/tcp/0'],
        }),
      )
    }
    await Promise.all(nodes.slice(1).map(joined))
    const conns = nodes.map((n) => n.libp2p.getConnections().length)
    // each seed took in more than its limit (newcomers' room), never more than libp2p's cap
    expect(Math.min(...nodes.slice(0, 2).map((n) => n.libp2p.getConnections().length))).toBeGreaterThan(limit)
    expect(Math.max(...conns)).toBeLessThanOrEqual(hardLimit(limit))
    expect(conns.every((c) => c > 0)).toBe(true)
  })
})

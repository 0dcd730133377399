import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { waitForMesh } from '../../src/simulation/mesh.ts'
import { sleepSpec, stopAll, WAIT_MS, waitAll, waitFor } from './helpers.ts'

/**
 * After a network cut, a node holding a record that lost — and had it from a peer of its part, not
 * from its own run — reads the winner, though the winner's maker is gone. Five real nodes over TCP:
 * O owns a task only it and T can run; T steals it, and while T runs it the cut parts {T, Z} from
 * {O, X, Y} (T's and Z's deny lists name the other part). T's run ends: its owner cannot be told,
 * so its record is contested, and its one reachable copy is Z's. O takes T for dead and runs the
 * task again under a higher epoch; its copies go to X and Y. Then O stops for good, and the cut
 * ends: nobody is left to tell T and Z of the winner — they read it again from the mesh, as every
 * node does for the contested tasks it made or heard of while a peer it has back was away.
 */

const BEACON_MS = 200
const DETECTION_MS = 3 * BEACON_MS + 600
/** How long gossipsub keeps the messages it offers peers (its defaults: 5 heartbeats of 1 s), ms. */
const GOSSIP_HISTORY_MS = 5_000
/** How long the task sleeps: the cut comes while T runs it, and O's blocker ends first. */
const RUN_MS = 2_500

const nodes: TaskmeshNode[] = []
afterAll(() => stopAll(nodes))

describe('a record that lost during a network cut, held by a peer of its maker', () => {
  it('is replaced by the winner at its maker and at that peer once the cut ends, the winner’s maker gone', async () => {
    // no custodians: Z, cut off with T, would adopt O's task and make a third run
    const common = {
      ...{ slots: 1, beaconIntervalMs: BEACON_MS, failureDetectionMs: DETECTION_MS, custodians: 0 },
      leaseTtlMs: 2_000, // O takes the task back soon once T is silent
    }
    const o = await TaskmeshNode.create({ ...common, labels: ['tee', 'oh'] })
    nodes.push(o)
    const bootstrap = [o.multiaddrs[0]]
    const [t, z, x, y] = await Promise.all(
      [['tee'], [], [], []].map((labels) => TaskmeshNode.create({ ...common, labels, bootstrap })),
    )
    nodes.push(t, z, x, y)
    await waitForMesh(nodes, WAIT_MS)

    // O's one slot is taken by a task only it can run; the task only O and T can run goes to T
    await o.submitMany([sleepSpec(RUN_MS - 500, 'blocker', { resources: { labels: ['oh'] } })])
    await waitFor(() => o.status().running === 1, WAIT_MS, 'O never ran its blocker')
    const [task] = await o.submitMany([sleepSpec(RUN_MS, 'w', { resources: { labels: ['tee'] } })])
    await waitFor(() => t.status().running === 1, WAIT_MS, 'T never stole the task')

    const far = [o, x, y].map((n) => n.peerId)
    for (const n of [t, z]) n.denyPeers(far)
    const atT = (await waitAll(t, [task.id]))[0]
    const atO = (await waitAll(o, [task.id], 2 * WAIT_MS))[0]
    expect(atO.epoch).toBeGreaterThan(atT.epoch)
    expect(atO.executor).toBe(o.peerId)
    // the loser is all T's part holds; the winner is at X and Y
    await waitFor(() => z.status().running === 0, WAIT_MS, 'Z is busy')
    expect((await z.getResult(task.id))?.epoch).toBe(atT.epoch)
    await o.flushResults()
    for (const n of [x, y]) expect((await waitAll(n, [task.id]))[0].epoch).toBe(atO.epoch)

    await o.stop()
    // the cut outlasts gossipsub's message history (5 heartbeats of 1 s): O's notice is not
    // gossiped to T and Z when they come back. Its length is the scenario, not a wait for an event.
    await new Promise((resolve) => setTimeout(resolve, GOSSIP_HISTORY_MS + 1_000))
    for (const n of [t, z]) n.denyPeers([])
    // the mesh's own way back after a cut is network-cut.test.ts's: here the parts dial at once
    await Promise.all([t, z].flatMap((n) => [x, y].map((o) => n.libp2p.dial(multiaddr(o.multiaddrs[0])))))
    await waitForMesh([t, z, x, y], WAIT_MS)
    const epochs = async () => Promise.all([t, z, x, y].map(async (n) => (await n.getResult(task.id))?.epoch))
    let seen = await epochs()
    const until = Date.now() + WAIT_MS
    while (seen.some((e) => e !== atO.epoch) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 200)) // no event says "every node agrees"
      seen = await epochs()
    }
    expect(seen).toEqual([atO.epoch, atO.epoch, atO.epoch, atO.epoch])
  }, 120_000)
})

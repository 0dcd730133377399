import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { compare } from 'uint8arrays'
import { afterAll, describe, expect, it } from 'vitest'
import { peerKadId, xorDistance } from '../../src/node/recovery/successor.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { CONTESTED_TOPIC } from '../../src/protocol/constants.ts'
import { waitForMesh } from '../../src/simulation/mesh.ts'
import { sleepSpec, stopAll, WAIT_MS, waitAll, waitFor } from './helpers.ts'

/**
 * After a network cut, a node whose record lost — and that never heard of a contest — reads the
 * winner from a peer that heard of it, though the winner's maker is gone. Four real nodes over TCP:
 * O owns a task it cannot run; T steals it (C, the other node that can, is busy). While T runs it,
 * the cut parts {O, T} from {C, H}. T's run ends and O takes the completion: on that side nothing
 * is contested. C, O's one custodian, takes O for dead, adopts the task and runs it again under a
 * higher epoch: its notice is contested and its copy goes to H. Then C stops for good, and the cut
 * ends: O and T made no contested record and heard of none; only H can tell them — it relays a
 * notice of the record it holds, naming C, and they fetch it from H. (In a mesh this small, H's
 * reading again of that record tells them too: kad-dht's lookup asks every node of a mesh under its
 * 20 closest and corrects those that answered the loser. Either way alone makes the test pass; with
 * neither, O and T keep the loser. The relay is what reaches nodes beyond the closest.)
 */

const BEACON_MS = 200
const DETECTION_MS = 3 * BEACON_MS + 600
/** How long gossipsub keeps the messages it offers peers (its defaults: 5 heartbeats of 1 s), ms. */
const GOSSIP_HISTORY_MS = 5_000
/** How long the task sleeps: the cut comes while T runs it. */
const RUN_MS = 2_000

/** O's key, and three others: the one closest to O (kad-dht's distance) first — O's custodian. */
async function keys(): Promise<[PrivateKey, PrivateKey, PrivateKey, PrivateKey]> {
  const made = await Promise.all([0, 1, 2, 3].map(() => generateKeyPair('Ed25519')))
  const kad = (k: PrivateKey) => peerKadId(peerIdFromPrivateKey(k).toString())
  const target = kad(made[0])
  const others = made
    .slice(1)
    .sort((a, b) => compare(xorDistance(kad(a), target), xorDistance(kad(b), target)))
  return [made[0], others[0], others[1], others[2]]
}

const nodes: TaskmeshNode[] = []
afterAll(() => stopAll(nodes))

describe('a record that lost during a network cut, at nodes that heard of no contest', () => {
  it('is replaced by the winner once the cut ends, relayed by a node that heard of it, its maker gone', async () => {
    const common = { slots: 1, beaconIntervalMs: BEACON_MS, failureDetectionMs: DETECTION_MS, custodians: 1 }
    const [oKey, cKey, tKey, hKey] = await keys()
    const o = await TaskmeshNode.create({ ...common, privateKey: oKey })
    nodes.push(o)
    const bootstrap = [o.multiaddrs[0]]
    // C first: whenever O chooses its custodian, C is the closest peer it has
    const c = await TaskmeshNode.create({ ...common, privateKey: cKey, labels: ['tee', 'cee'], bootstrap })
    nodes.push(c)
    const t = await TaskmeshNode.create({ ...common, privateKey: tKey, labels: ['tee'], bootstrap })
    const h = await TaskmeshNode.create({ ...common, privateKey: hKey, bootstrap })
    nodes.push(t, h)
    await waitForMesh(nodes, WAIT_MS)

    // C's one slot is taken by a task only it can run (until it is cancelled): the task only T and
    // C can run goes to T
    const [blocker] = await c.submitMany([sleepSpec(60_000, 'blocker', { resources: { labels: ['cee'] } })])
    await waitFor(() => c.status().running === 1, WAIT_MS, 'C never ran its blocker')
    const [task] = await o.submitMany([sleepSpec(RUN_MS, 'w', { resources: { labels: ['tee'] } })])
    await waitFor(() => t.status().running === 1, WAIT_MS, 'T never stole the task')
    expect(o.status().custody.custodians).toEqual([c.peerId])
    await c.cancel(blocker.id)
    await waitFor(() => c.status().running === 0, WAIT_MS, 'C is still busy')

    for (const n of [c, h]) n.denyPeers([o.peerId, t.peerId])
    const atT = (await waitAll(t, [task.id]))[0]
    expect((await waitAll(o, [task.id]))[0]).toEqual(atT) // O took T's completion: nothing contested
    const atC = (await waitAll(c, [task.id], 2 * WAIT_MS))[0]
    expect(atC.executor).toBe(c.peerId)
    expect(atC.epoch).toBeGreaterThan(atT.epoch)
    await c.flushResults()
    expect((await waitAll(h, [task.id]))[0].epoch).toBe(atC.epoch)

    await c.stop()
    const topic = (n: TaskmeshNode) => n.status().accounting.topics[CONTESTED_TOPIC]
    const heardBefore = [o, t].map((n) => topic(n)?.received ?? 0)
    expect(topic(h)?.published ?? 0).toBe(0) // H never made a contested record
    // the cut outlasts gossipsub's message history (5 heartbeats of 1 s): C's notice is not
    // gossiped to O and T when they come back. Its length is the scenario, not a wait for an event.
    await new Promise((resolve) => setTimeout(resolve, GOSSIP_HISTORY_MS + 1_000))
    h.denyPeers([])
    // the mesh's own way back after a cut is network-cut.test.ts's: here H dials at once
    await Promise.all([o, t].map((n) => h.libp2p.dial(multiaddr(n.multiaddrs[0]))))
    await waitForMesh([o, t, h], WAIT_MS)
    const epochs = async () => Promise.all([o, t, h].map(async (n) => (await n.getResult(task.id))?.epoch))
    let seen = await epochs()
    const until = Date.now() + WAIT_MS
    while (seen.some((e) => e !== atC.epoch) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 200)) // no event says "every node agrees"
      seen = await epochs()
    }
    expect(seen).toEqual([atC.epoch, atC.epoch, atC.epoch])
    // H relayed its notice, and both O and T heard it
    await waitFor(() => (topic(h)?.published ?? 0) > 0, WAIT_MS, 'H relayed nothing')
    await waitFor(
      () => [o, t].every((n, i) => (topic(n)?.received ?? 0) > heardBefore[i]),
      WAIT_MS,
      'O or T never heard the relay',
    )
  }, 120_000)
})

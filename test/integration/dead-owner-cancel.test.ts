import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshClient } from '../../src/client/taskmesh-client.ts'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { OwnerDownError } from '../../src/task/errors.ts'
import { deadline, eventAt, sleepSpec, stopAll, WAIT_MS, waitFor } from './helpers.ts'

/**
 * A cancel, or a question of state, about a task whose owner was killed while another node runs it
 * under the owner's lease. Every node is labelled with its index (`n0`, `n1`, …), so a task asking
 * for `nI` runs at node I only: the layouts (who guards, who runs, who knows nothing) are chosen.
 */

const BEACON_MS = 200
const LONG_MS = 60_000
const common = { beaconIntervalMs: BEACON_MS, failureDetectionMs: 3 * BEACON_MS + 600 }

/** `count` nodes of 3 slots, labelled `n0`, `n1`, …; each owner hands its tasks to `custodians`. */
function labelledMesh(count: number, custodians: number): Promise<TaskmeshNode[]> {
  return startLocalMesh({
    nodes: count,
    slots: 3,
    nodeOptions: (i) => ({ ...common, custodians, labels: [`n${i}`] }),
  })
}

/** The custodian `owner` will hand its tasks to (chosen among its peers as the mesh formed). */
async function custodianOf(owner: TaskmeshNode, nodes: TaskmeshNode[]): Promise<TaskmeshNode> {
  await waitFor(() => owner.status().custody.custodians.length === 1, WAIT_MS, 'the owner chose no custodian')
  const [peer] = owner.status().custody.custodians
  return nodes.find((n) => n.peerId === peer)!
}

const label = (node: TaskmeshNode, nodes: TaskmeshNode[]) => `n${nodes.indexOf(node)}`

/** Long tasks of `owner` only `thief` can run, each started there under `owner`'s lease. */
async function stolenBy(owner: TaskmeshNode, thief: TaskmeshNode, nodes: TaskmeshNode[], count = 1) {
  const labels = [label(thief, nodes)]
  const specs = Array.from({ length: count }, (_, i) =>
    sleepSpec(LONG_MS, `t${i}`, { resources: { labels } }),
  )
  const ids = (await owner.submitMany(specs)).map((h) => h.id)
  const started = await Promise.all(ids.map((id) => eventAt(thief, id, 'started')))
  return { ids, leaseEpochs: started.map((e) => Number(e.detail?.epoch)) }
}

describe('cancel and state of a task whose owner died while a thief runs it', () => {
  let nodes: TaskmeshNode[] = []
  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('the node that took it over cancels it, wherever asked, and the run under the dead lease stops', async () => {
    nodes = await labelledMesh(4, 1)
    const owner = nodes[0]
    const adopter = await custodianOf(owner, nodes)
    const [thief, bystander] = nodes.filter((n) => n !== owner && n !== adopter)
    const { ids, leaseEpochs } = await stolenBy(owner, thief, nodes, 3)
    await owner.libp2p.stop() // the owner dies
    await Promise.all(ids.map((id) => eventAt(adopter, id, 'adopted')))

    // a node that knows nothing of the task finds the node that took it over, not the dead owner
    expect(await bystander.taskState(ids[0])).toMatchObject({ owner: adopter.peerId })
    const client = await TaskmeshClient.connect(bystander.multiaddrs[0])
    try {
      expect(await client.state(ids[0])).toMatchObject({ owner: adopter.peerId })
    } finally {
      await client.close()
    }

    // asked at the thief, the bystander and the adopter: the adopter decides each time
    for (const [i, asked] of [thief, bystander, adopter].entries()) {
      await expect(asked.cancel(ids[i])).resolves.toEqual({
        taskId: ids[i],
        outcome: 'cancelled',
        owner: adopter.peerId,
      })
      // the thief's run under the dead owner's lease is aborted, never published
      await eventAt(thief, ids[i], 'dropped')
      const record = await bystander.waitResult(ids[i], deadline())
      expect(record).toMatchObject({ status: 'failed', error: 'cancelled', owner: adopter.peerId })
      expect(record.epoch).toBeGreaterThan(leaseEpochs[i])
    }
    // the cancel asked elsewhere reached the thief through the adopter's record
    expect(thief.story(ids[2]).map((e) => e.event)).toContain('superseded')
    expect(thief.status().running).toBe(0)
    expect(thief.story(ids[0]).map((e) => e.event)).not.toContain('finished')
    await expect(bystander.cancel(ids[1])).resolves.toMatchObject({ outcome: 'finished' })
  })

  it('the thief the dead owner left it to takes it over to cancel it, asked by a node that knew nothing', async () => {
    nodes = await labelledMesh(3, 1)
    const owner = nodes[0]
    const thief = await custodianOf(owner, nodes) // its custodian runs it: no node adopts it meanwhile
    const bystander = nodes.find((n) => n !== owner && n !== thief)!
    const {
      ids: [id],
      leaseEpochs: [leaseEpoch],
    } = await stolenBy(owner, thief, nodes)
    const killedAt = Date.now()
    await owner.libp2p.stop()
    await waitFor(
      () => !thief.knownPeers().includes(owner.peerId),
      WAIT_MS,
      'the owner was never declared dead',
    )

    expect(await bystander.taskState(id)).toEqual({
      state: 'running',
      reason: `held under a lease from ${owner.peerId}, which is down`,
      owner: owner.peerId,
    })
    await expect(bystander.cancel(id)).resolves.toEqual({
      taskId: id,
      outcome: 'cancelled',
      owner: thief.peerId,
    })
    await eventAt(thief, id, 'dropped')
    const record = await bystander.waitResult(id, deadline())
    expect(record).toMatchObject({
      status: 'failed',
      error: 'cancelled',
      owner: thief.peerId,
      executor: thief.peerId,
    })
    expect(record.epoch).toBeGreaterThan(killedAt)
    expect(record.attempts.at(-1)).toMatchObject({
      executor: thief.peerId,
      epoch: leaseEpoch,
      cut: 'cancelled',
    })
    expect(thief.status().running).toBe(0)
    await expect(thief.cancel(id)).resolves.toMatchObject({ outcome: 'finished', owner: thief.peerId })
    // no node adopted the task: its custodian ran it on, and took it over only to cancel it
    for (const n of nodes) expect(n.story(id).map((e) => e.event)).not.toContain('adopted')
  })

  it('where no node can take it over, a plain error: the owner is down, try again', async () => {
    nodes = await labelledMesh(3, 0) // no custodians: nobody will ever adopt the owner's tasks
    const [owner, thief, bystander] = nodes
    const {
      ids: [id],
    } = await stolenBy(owner, thief, nodes)
    await owner.libp2p.stop()

    const refusal = `owner ${owner.peerId} of task ${id} is down and no node has taken its tasks yet: try again`
    const client = await TaskmeshClient.connect(bystander.multiaddrs[0])
    try {
      // what `taskmesh story` asks of a node with no story of the task: its state, from the node running it
      expect(await client.story(id)).toEqual([])
      expect(await client.state(id)).toMatchObject({ state: 'running', owner: owner.peerId })
      await expect(client.cancel(id)).rejects.toMatchObject({ code: 'ERR_OWNER_DOWN', message: refusal })
    } finally {
      await client.close()
    }
    for (const asked of [thief, bystander]) {
      const err = await asked.cancel(id).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(OwnerDownError)
      expect(err).toMatchObject({ code: 'ERR_OWNER_DOWN', message: refusal })
    }
    expect(thief.status().running).toBe(1) // nothing was cancelled
  })
})

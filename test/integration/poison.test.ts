import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { connectAll } from '../../src/simulation/mesh.ts'
import { sleepSpec, stopAll, waitFor } from './helpers.ts'

const BEACON_MS = 250
const LEASE_TTL_MS = 5_000 // long: each loss here is a holder declared dead, not an expiry

describe('poison tasks (promise 1: failure handling)', () => {
  let nodes: TaskmeshNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('a task whose executor dies K times ends as failed "poison: lost K executors"; no more executors are spent on it', async () => {
    // the owner cannot run the task (it needs the gpu label); each thief that can dies holding it
    const owner = await TaskmeshNode.create({
      slots: 1,
      beaconIntervalMs: BEACON_MS,
      leaseTtlMs: LEASE_TTL_MS,
      maxExecutorLosses: 3,
    })
    nodes.push(owner)
    const [handle] = await owner.submitMany([sleepSpec(60_000, null, { resources: { labels: ['gpu'] } })])

    for (let lost = 1; lost <= 3; lost++) {
      const thief = await TaskmeshNode.create({ slots: 1, labels: ['gpu'], beaconIntervalMs: BEACON_MS })
      nodes.push(thief)
      await connectAll([owner, thief])
      await waitFor(() => thief.status().running === 1, 10_000, `thief ${lost} never ran the task`)
      await thief.libp2p.stop() // dies holding the lease: its connection drops, nothing is handed back
      await waitFor(
        () => owner.status().counters.executorsLost === lost,
        5_000,
        () => `the owner did not take lease ${lost} back: ${JSON.stringify(owner.status().counters)}`,
      )
    }

    const record = await handle.result(AbortSignal.timeout(10_000))
    expect(record).toMatchObject({
      taskId: handle.id,
      status: 'failed',
      error: 'poison: lost 3 executors',
      executor: owner.peerId,
      owner: owner.peerId,
    })
    const { counters } = owner.status()
    expect(counters).toMatchObject({ executorsLost: 3, poisoned: 1, tasksGranted: 3, leasesExpired: 0 })
    expect(owner.ownedCount).toBe(0)
    expect(owner.status().queued).toBe(0)
    // the failed record is the one the DHT serves
    expect((await owner.getResult(handle.id, { skipCache: true }))?.error).toBe('poison: lost 3 executors')
  }, 30_000)
})

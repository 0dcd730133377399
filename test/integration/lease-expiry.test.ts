import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { connectAll, startLocalMesh } from '../../src/simulation/mesh.ts'
import { sleepSpec, stopAll, waitAll, waitFor } from './helpers.ts'

/** Short leases, so the owner notices a dead thief quickly. */
const LEASE_TTL_MS = 1500
/** Long enough that the thief is still running (or holding) its stolen tasks when it crashes. */
const TASK_MS = 1000
const TASKS = 6

describe('lease expiry after a thief crashes', () => {
  let nodes: TaskmeshNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('an owner requeues what a crashed thief held once it is found dead or its leases expire; every task still completes, never by the dead thief', async () => {
    const [a, b] = await startLocalMesh({
      nodes: 2,
      slots: [1, 2],
      nodeOptions: () => ({ leaseTtlMs: LEASE_TTL_MS }),
    })
    nodes = [a, b]

    const handles = await a.submitMany(Array.from({ length: TASKS }, (_, i) => sleepSpec(TASK_MS, i)))
    const ids = handles.map((h) => h.id)

    // B is the only thief: wait until it holds leases, then crash it without the graceful
    // hand-back (its libp2p half stops; nothing more leaves the process).
    await waitFor(() => b.status().leasedIn > 0, 10_000, 'B never stole from A')
    const held = b.status().leasedIn
    await b.libp2p.stop()
    expect(a.status().counters.tasksGranted).toBeGreaterThanOrEqual(held)

    // A newcomer joins after the crash and may take the requeued work.
    const c = await TaskmeshNode.create({ slots: 2, beaconIntervalMs: 500, leaseTtlMs: LEASE_TTL_MS })
    nodes.push(c)
    await connectAll([a, c])
    await c.waitForPeers(1)

    const records = await waitAll(a, ids)
    records.forEach((r, i) => {
      expect(r.status, `task ${i}`).toBe('succeeded')
      expect(r.output, `task ${i}`).toBe(i)
      expect([a.peerId, c.peerId], `executor of task ${i}`).toContain(r.executor)
    })
    const counters = a.status().counters
    // taken back by expiry, or sooner when the dead thief's closed connection is probed
    expect(counters.executorsLost).toBeGreaterThan(0)
    expect(counters.leasesExpired).toBeLessThanOrEqual(counters.executorsLost)
    expect(counters.executorsLost).toBeLessThanOrEqual(counters.tasksGranted)
  })
})

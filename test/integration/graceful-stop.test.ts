import { afterEach, describe, expect, it } from 'vitest'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { NodeStoppedError } from '../../src/task/errors.ts'
import { sleepSpec, stopAll, waitAll, waitFor } from './helpers.ts'

describe('graceful stop of a thief', () => {
  let nodes: TaskmeshNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('stop() hands leased-but-unstarted tasks back to their owner at once (no lease expiry), and is safe twice', async () => {
    // Long leases: without the hand-back the owner could only get its task back after 10 s.
    // A has 2 slots: once B is gone, one runs B's own task (A holds it in custody and adopts it)
    nodes = await startLocalMesh({ nodes: 2, slots: [2, 1], nodeOptions: () => ({ leaseTtlMs: 10_000 }) })
    const [a, b] = nodes

    // B's only slot is busy with a task of its own, so whatever it steals stays queued, unstarted.
    await b.submit(sleepSpec(60_000))
    await waitFor(() => b.status().running === 1, 5_000, 'B did not start its own task')

    // A's 2 slots are busy (until the test cancels its blockers): its 8 tasks stay queued,
    // stealable, until B stole some
    const blockers = await a.submitMany([sleepSpec(60_000, 'x'), sleepSpec(60_000, 'y')])
    await waitFor(() => a.status().running === 2, 5_000, 'A did not start its blockers')
    const handles = await a.submitMany(Array.from({ length: 8 }, (_, i) => sleepSpec(500, i)))
    const ids = handles.map((h) => h.id)
    await waitFor(() => b.status().leasedIn > 0, 10_000, 'B never stole from A')
    const before = b.status()
    expect(before.running).toBe(1) // its own task only: the stolen ones have not started
    expect(a.status().leasedOut).toBe(before.leasedIn)
    for (const blocker of blockers) await a.cancel(blocker.id)

    await b.stop()
    await b.stop() // a second stop is a no-op
    expect(b.libp2p.status).toBe('stopped')
    await expect(b.submit(sleepSpec(1))).rejects.toBeInstanceOf(NodeStoppedError)

    // A got the tasks back and ran them all itself, without waiting for a lease to expire.
    const records = await waitAll(a, ids)
    records.forEach((r, i) => {
      expect(r.status, `task ${i}`).toBe('succeeded')
      expect(r.output, `task ${i}`).toBe(i)
      expect(r.executor, `task ${i}`).toBe(a.peerId)
    })
    const { counters, leasedOut } = a.status()
    expect(counters.tasksGranted).toBe(before.leasedIn)
    expect(counters.leasesExpired).toBe(0)
    expect(leasedOut).toBe(0)
  })

  it('stop() while a thief runs a stolen task: every task of the owner still ends succeeded', async () => {
    // Short leases: a task cancelled on the stopping thief is recovered by expiry if need be.
    nodes = await startLocalMesh({ nodes: 2, slots: 1, nodeOptions: () => ({ leaseTtlMs: 1500 }) })
    const [a, b] = nodes

    // A's slot is busy (until the test cancels its blocker): its 4 tasks stay queued, stealable,
    // until B runs one
    const [blocker] = await a.submitMany([sleepSpec(60_000, 'blocker')])
    await waitFor(() => a.status().running === 1, 5_000, 'A did not start its blocker')
    const handles = await a.submitMany(Array.from({ length: 4 }, (_, i) => sleepSpec(500, i)))
    const ids = handles.map((h) => h.id)
    await waitFor(() => b.status().running > 0, 10_000, 'B never ran a stolen task')

    const stopped = b.stop()
    await a.cancel(blocker.id)
    await stopped

    const records = await waitAll(a, ids)
    records.forEach((r, i) => {
      expect(r.status, `task ${i}: ${r.error ?? ''}`).toBe('succeeded')
      expect(r.output, `task ${i}`).toBe(i)
    })
  })
})

import { afterEach, describe, expect, it } from 'vitest'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { blockLoop, sleepSpec, stopAll, waitAll, waitFor } from './helpers.ts'

const LEASE_TTL_MS = 1_000
const FAILURE_DETECTION_MS = 1_500
/** Longer than the lease TTL and the failure-detection window together. */
const STALL_MS = 3_000
const TASKS = 3

describe('an event-loop stall is not taken for failed peers', () => {
  let nodes: TaskmeshNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('after this process stalls past the lease TTL and the detection window, no lease expires, no peer is declared dead, every task runs once', async () => {
    nodes = await startLocalMesh({
      nodes: 2,
      slots: [1, 2],
      nodeOptions: () => ({
        leaseTtlMs: LEASE_TTL_MS,
        beaconIntervalMs: 250,
        failureDetectionMs: FAILURE_DETECTION_MS,
      }),
    })
    const [a, b] = nodes
    const handles = await a.submitMany(
      Array.from({ length: TASKS }, (_, i) => sleepSpec(STALL_MS + 1_000, i)),
    )
    await waitFor(() => b.status().running > 0, 10_000, 'B never ran a stolen task')

    // Both nodes live in this process: the renewals B sends after the stall reach A only after
    // A's timers have run. Without stall tolerance, A expires B's leases and declares it dead.
    blockLoop(STALL_MS)

    const records = await waitAll(
      a,
      handles.map((h) => h.id),
    )
    records.forEach((r, i) => {
      expect(r.status, `task ${i}`).toBe('succeeded')
      expect(r.epoch, `task ${i} ran under its first epoch`).toBe(1)
    })
    for (const n of nodes) {
      expect(n.status().counters.leasesExpired).toBe(0)
      expect(n.status().counters.executorsLost).toBe(0)
      expect(n.status().counters.adopted).toBe(0)
    }
    expect(a.status().counters.executed + b.status().counters.executed).toBe(TASKS)
  })
})

import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { connectAll } from '../../src/simulation/mesh.ts'
import { sleepSpec, stopAll, waitAll, waitFor } from './helpers.ts'

const wallClock = Date.now

/** Steps this process's wall clock by `ms`, as NTP or `date -s` steps the machine's. */
function stepWallClock(ms: number): void {
  Date.now = () => wallClock() + ms
}

/**
 * The wall clock steps by an hour while three real nodes run tasks: an owner, a thief holding
 * leases on its tasks (2-s TTL, renewed), and a third node that waits for the results. Nothing
 * a node judges by elapsed time moves with it (see `monotonicNow`).
 */
describe('a step of the wall clock mid-run', () => {
  let nodes: TaskmeshNode[] = []
  afterEach(async () => {
    Date.now = wallClock
    await stopAll(nodes)
    nodes = []
  })

  it.each([
    ['back an hour', -3_600_000],
    ['forward an hour', 3_600_000],
  ])(
    '%s: no peer judged dead, no lease lost, each task run once and read at a third node',
    async (_, ms) => {
      const common = { beaconIntervalMs: 200, leaseTtlMs: 2_000 }
      const owner = await TaskmeshNode.create({ ...common, slots: 1 })
      const thief = await TaskmeshNode.create({ ...common, slots: 4 })
      const reader = await TaskmeshNode.create({ ...common, slots: 1 })
      nodes = [owner, thief, reader]
      await connectAll(nodes)
      await Promise.all(nodes.map((n) => n.waitForPeers(2)))
      const handles = await owner.submitMany(Array.from({ length: 12 }, (_, i) => sleepSpec(400, i)))
      await waitFor(() => thief.status().leasedIn > 0, 10_000, 'the thief never took a lease')

      stepWallClock(ms)
      // 12 runs of 400 ms on 6 slots: several liveness checks (every 200 ms) and lease sweeps
      // (every 500 ms) judge on the stepped clock before the last result is in
      const records = await waitAll(
        reader,
        handles.map((h) => h.id),
        15_000,
      )
      expect(records.map((r) => r.status)).toEqual(handles.map(() => 'succeeded'))
      for (const n of nodes) expect(n.knownPeers()).toHaveLength(2)
      expect(owner.status().counters).toMatchObject({ leasesExpired: 0, executorsLost: 0 })
      expect(nodes.reduce((sum, n) => sum + n.status().counters.executed, 0)).toBe(12)
    },
    60_000,
  )
})

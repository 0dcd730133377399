import { afterAll, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { connectAll } from '../../src/simulation/mesh.ts'
import { stopAll, waitAll, waitFor } from './helpers.ts'

const nodes: TaskmeshNode[] = []
afterAll(() => stopAll(nodes))

/**
 * A submission larger than a turn of the intake (64 tasks) is taken in turns: its first tasks may
 * run and end before the last are taken, and before any is handed to the owner's custodians. A
 * task that ended before its hold is handed to no one: its drop came first, and the custodians
 * guarded it for good (a soak of 3 daemons: 20,000 tasks guarded at each, none open).
 */
describe('custody of a large submission of quick tasks', () => {
  it('leaves nothing guarded once every task has its result', async () => {
    for (let i = 0; i < 3; i++) nodes.push(await TaskmeshNode.create({ slots: 8, beaconIntervalMs: 200 }))
    await connectAll(nodes)
    await Promise.all(nodes.map((n) => n.waitForPeers(2)))
    const [owner, ...custodians] = nodes
    const handles = await owner.submitMany(
      Array.from({ length: 600 }, (_, i) => ({ type: 'noop', input: i })),
    )
    const records = await waitAll(
      owner,
      handles.map((h) => h.id),
    )
    expect(records.every((r) => r.status === 'succeeded')).toBe(true)
    expect(owner.status().custody.custodians.sort()).toEqual(custodians.map((c) => c.peerId).sort())
    await waitFor(
      () => custodians.every((c) => c.status().custody.guarded === 0),
      10_000,
      () => `still guarded: ${custodians.map((c) => c.status().custody.guarded).join(', ')}`,
    )
  }, 60_000)
})

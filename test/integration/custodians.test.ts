import { afterEach, describe, expect, it } from 'vitest'
import { resolveNodeOptions } from '../../src/node/options.ts'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { InvalidTaskError } from '../../src/task/errors.ts'
import { sleepSpec, stopAll, WAIT_MS, waitAll, waitFor } from './helpers.ts'

const TASKS = 6
/** How long the held tasks would sleep: far past the test, which cancels them once seen held. */
const LONG_MS = 60_000

describe('custodians: the peers an owner hands its open tasks to', () => {
  let nodes: TaskmeshNode[] = []
  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  /** A complete mesh of 3 whose first node owns sleeps of `ms` that only it runs (a label). */
  async function ownAtFirst(custodians: number, ms: number) {
    nodes = await startLocalMesh({
      nodes: 3,
      slots: TASKS,
      nodeOptions: (i) => ({ custodians, ...(i === 0 ? { labels: ['here'] } : {}) }),
    })
    const before = nodes[0].status().accounting
    const specs = Array.from({ length: TASKS }, (_, i) =>
      sleepSpec(ms, i, { resources: { slots: 1, memoryMb: 0, labels: ['here'] } }),
    )
    const handles = await nodes[0].submitMany(specs)
    return { before, ids: handles.map((h) => h.id) }
  }

  it('with 1, every open task is held by one peer only, until it ends', async () => {
    // no task can end before it is seen held (the hold goes out as they are accepted): the test
    // ends them by cancelling them
    const { ids } = await ownAtFirst(1, LONG_MS)
    const [custodian] = nodes[0].status().custody.custodians
    expect(nodes[0].status().custody.custodians).toHaveLength(1)
    const holder = nodes.find((n) => n.peerId === custodian)
    const other = nodes.find((n) => n !== nodes[0] && n.peerId !== custodian)
    await waitFor(() => holder?.status().custody.guarded === TASKS, WAIT_MS, 'the custodian holds every task')
    expect(other?.status().custody.guarded).toBe(0)
    for (const id of ids) expect((await nodes[0].cancel(id)).outcome).toBe('cancelled')
    const records = await waitAll(nodes[0], ids)
    expect(records.every((r) => r.status === 'failed' && r.error === 'cancelled')).toBe(true)
    // the ends are told together within the drop window
    await waitFor(
      () => holder?.status().custody.guarded === 0,
      WAIT_MS,
      'the custodian forgets the ended tasks',
    )
  }, 60_000)

  it('with 0, no peer is handed anything, and the tasks still run to their results', async () => {
    const { before, ids } = await ownAtFirst(0, 1_500)
    expect(nodes[0].status().custody.custodians).toEqual([])
    const records = await waitAll(nodes[0], ids)
    expect(records.every((r) => r.status === 'succeeded')).toBe(true)
    const after = nodes[0].status().accounting
    expect((after.protocols.custody?.sends ?? 0) - (before.protocols.custody?.sends ?? 0)).toBe(0)
    for (const n of nodes.slice(1)) expect(n.status().custody.guarded).toBe(0)
  }, 60_000)

  it('refuses a count outside 0–4 with an error naming the option', () => {
    for (const bad of [-1, 5, 0.5]) {
      expect(() => resolveNodeOptions({ custodians: bad })).toThrow(InvalidTaskError)
      expect(() => resolveNodeOptions({ custodians: bad })).toThrow(/custodians.*0 to 4/)
    }
    expect(resolveNodeOptions({}).custodians).toBe(2)
  })
})

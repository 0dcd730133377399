import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { STEAL_PROTOCOL_1_1 } from '../../src/protocol/constants.ts'
import { connectAll, waitForMesh } from '../../src/simulation/mesh.ts'
import { deadline, stopAll } from './helpers.ts'

const TASKS = 8
/**
 * Beacons every 2 s: an owner offers only to a peer whose beacon came within 1.5 intervals, and a
 * busy test machine may hold a 1 s beacon back past that.
 */
const COMMON = { transport: 'tcp', beaconIntervalMs: 2_000 } as const

/** A node that runs `render`, with 2 slots; `v10`: it serves the steal protocol 1.0 only (an earlier version). */
async function renderer(v10 = false): Promise<TaskmeshNode> {
  const registry = await HandlerRegistry.withBuiltins()
  registry.register('render', { mode: 'inline', run: (input) => input })
  const node = await TaskmeshNode.create({ ...COMMON, slots: 2, registry })
  if (v10) await node.libp2p.unhandle(STEAL_PROTOCOL_1_1)
  return node
}

const counters = (n: TaskmeshNode) => n.status().counters
const stealReceives = (n: TaskmeshNode) => n.status().accounting.protocols.steal?.receives ?? 0

describe('an owner offers what it cannot start to an idle peer (steal 1.1)', () => {
  let nodes: TaskmeshNode[] = []

  beforeAll(async () => {
    // A takes the submissions and runs only the built-in types; C and D run `render`, D speaks steal 1.0 only
    nodes = [await TaskmeshNode.create({ ...COMMON, slots: 1 }), await renderer(), await renderer(true)]
    await connectAll(nodes)
    await waitForMesh(nodes)
  })

  afterAll(async () => {
    await stopAll(nodes)
  })

  it('the idle peer runs each task without asking for it; the 1.0 peer is never offered one', async () => {
    const [a, c, d] = nodes
    for (let i = 0; i < TASKS; i++) {
      const handle = await a.submit({ type: 'render', input: i })
      expect(await a.waitResult(handle.id, deadline())).toMatchObject({ executor: c.peerId, output: i })
      // the owner's story tells how it left: granted to C in an offer
      const granted = a.story(handle.id).find((e) => e.event === 'granted')
      expect(granted?.detail).toMatchObject({ to: c.peerId, offered: true })
    }
    expect(counters(a).tasksOffered).toBe(TASKS)
    expect(counters(a).tasksGranted).toBe(TASKS)
    expect(counters(c).offersTaken).toBe(TASKS)
    // the work went out with the offer: no beacon told C of it, and C never asked
    expect(counters(c).stealRequests).toBe(0)
    // an offer to D would have come on a steal stream (and been refused by its 1.0 schema)
    expect(counters(d).offersTaken).toBe(0)
    expect(stealReceives(d)).toBe(0)
  })
})

describe('an owner and a peer of steal 1.0', () => {
  let nodes: TaskmeshNode[] = []

  beforeAll(async () => {
    nodes = [await TaskmeshNode.create({ ...COMMON, slots: 1 }), await renderer(true)]
    await connectAll(nodes)
    await waitForMesh(nodes)
  })

  afterAll(async () => {
    await stopAll(nodes)
  })

  it('the 1.0 peer steals what it runs, as before offers', async () => {
    const [a, d] = nodes
    for (let i = 0; i < 3; i++) {
      const handle = await a.submit({ type: 'render', input: i })
      expect(await a.waitResult(handle.id, deadline())).toMatchObject({ executor: d.peerId, output: i })
    }
    expect(counters(a).tasksOffered).toBe(0)
    expect(counters(d).stealRequests).toBeGreaterThanOrEqual(3)
    expect(counters(a).tasksGranted).toBe(3)
  })
})

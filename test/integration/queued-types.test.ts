import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { connectAll, waitForMesh } from '../../src/simulation/mesh.ts'
import { deadline, stopAll } from './helpers.ts'

const TASKS = 12

/** Steal frames a node wrote: requests as a thief (no one steals from a node that queues nothing). */
const stealSends = (n: TaskmeshNode) => n.status().accounting.protocols.steal?.sends ?? 0

describe('beacons name the queued handler types', () => {
  let nodes: TaskmeshNode[] = []

  beforeAll(async () => {
    const registry = await HandlerRegistry.withBuiltins()
    registry.register('render', { mode: 'inline', run: (input) => input })
    // A takes the submissions and B idles beside it: both run only the built-in types; C runs `render`
    nodes = await Promise.all(
      [undefined, undefined, registry].map((r) =>
        TaskmeshNode.create({ slots: 1, transport: 'tcp', ...(r === undefined ? {} : { registry: r }) }),
      ),
    )
    await connectAll(nodes)
    await waitForMesh(nodes)
  })

  afterAll(async () => {
    await stopAll(nodes)
  })

  it('an idle node that runs none of the queued types never asks for them; the one that does steals each', async () => {
    const [a, b, c] = nodes
    for (let i = 0; i < TASKS; i++) {
      const handle = await a.submit({ type: 'render', input: i })
      expect(await a.waitResult(handle.id, deadline())).toMatchObject({ executor: c.peerId, output: i })
    }
    // B shares every type A runs, and heard a beacon with a queued task at each submission
    expect(stealSends(b)).toBe(0)
    expect(stealSends(c)).toBeGreaterThanOrEqual(TASKS)
  })
})

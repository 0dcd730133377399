import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { sleepSpec, stopAll, waitAll } from './helpers.ts'

/**
 * Three nodes with different offers; every task is submitted at the one that can run the fewest,
 * so the others must steal — and only what they can satisfy.
 */
const OFFERS = [
  { slots: 1, labels: [], memoryMb: 256 }, // A: where everything is submitted
  { slots: 2, labels: ['gpu'], memoryMb: 4096 }, // B
  { slots: 4, labels: ['ssd'], memoryMb: 1024 }, // C
]

describe('resources and labels (promise 5) across a mesh', () => {
  let nodes: TaskmeshNode[] = []

  beforeAll(async () => {
    nodes = await startLocalMesh({
      nodes: OFFERS.length,
      slots: OFFERS.map((o) => o.slots),
      nodeOptions: (i) => ({ labels: OFFERS[i].labels, memoryMb: OFFERS[i].memoryMb }),
    })
  })

  afterAll(async () => {
    await stopAll(nodes)
  })

  it('each task runs only where its label, slots and memory fit, whoever holds it', async () => {
    const [a, b, c] = nodes
    const kinds = [
      { need: { labels: ['gpu'] }, runs: [b] },
      { need: { labels: ['ssd'] }, runs: [c] },
      { need: { slots: 3 }, runs: [c] },
      { need: { memoryMb: 2048 }, runs: [b] },
      { need: { labels: ['gpu'], memoryMb: 1024 }, runs: [b] },
      { need: { slots: 2, memoryMb: 512 }, runs: [b, c] },
      { need: {}, runs: [a, b, c] },
    ]
    const specs = Array.from({ length: 6 }, () => kinds).flatMap((ks) =>
      ks.map((k, i) => sleepSpec(15, i, { resources: k.need })),
    )
    const handles = await a.submitMany(specs)
    const records = await waitAll(
      a,
      handles.map((h) => h.id),
    )
    const allowed = (i: number) => kinds[i % kinds.length].runs.map((n) => n.peerId)
    const violations = records.filter((r, i) => !allowed(i).includes(r.executor))
    expect(violations).toEqual([])
    expect(records.every((r) => r.status === 'succeeded')).toBe(true)
    // every capable node took part: B and C stole what only they could run
    const executors = new Set(records.map((r) => r.executor))
    expect(executors).toEqual(new Set([a.peerId, b.peerId, c.peerId]))
    // no node ever ran what it could not: their counters add up to the tasks
    const executed = nodes.map((n) => n.status().counters.executed)
    expect(executed.reduce((x, y) => x + y, 0)).toBe(specs.length)
  })
})

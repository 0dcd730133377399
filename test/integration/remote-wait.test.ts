import { afterEach, describe, expect, it } from 'vitest'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { deadline, sleepSpec, stopAll } from './helpers.ts'

describe('a node waiting for another owner’s tasks', () => {
  let nodes: TaskmeshNode[] = []
  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('polls for them in batches over the fetch protocol, not a DHT lookup each', async () => {
    // the first node owns sleeps only it runs (a label); the second waits for every one of them
    nodes = await startLocalMesh({
      nodes: 3,
      slots: 4,
      nodeOptions: (i) => (i === 0 ? { labels: ['here'] } : {}),
    })
    const [owner, waiter] = nodes
    const handles = await owner.submitMany(
      Array.from({ length: 40 }, (_, i) =>
        sleepSpec(100, i, { resources: { slots: 1, memoryMb: 0, labels: ['here'] } }),
      ),
    )
    const before = waiter.status().accounting.protocols
    const records = await Promise.all(handles.map((h) => waiter.waitResult(h.id, deadline())))
    expect(records.map((r) => r.taskId)).toEqual(handles.map((h) => h.id))
    const after = waiter.status().accounting.protocols
    const sent = (name: string, what: 'sends' | 'streamsOut') =>
      (after[name]?.[what] ?? 0) - (before[name]?.[what] ?? 0)
    // the 40 waiters' polls went out together, a frame or a few to each of the 2 peers, where each
    // poll was a DHT lookup: a kad-dht stream to each peer asked, 80 for the first polls alone
    // (kad-dht's own upkeep may open one or two meanwhile)
    expect(sent('fetch', 'sends')).toBeGreaterThanOrEqual(1)
    expect(sent('fetch', 'sends')).toBeLessThan(handles.length)
    expect(sent('kad-dht', 'streamsOut')).toBeLessThan(handles.length)
    // and the records the notices announced were read from the executor the same way, not on a
    // submit-protocol stream each
    expect(sent('submit', 'streamsOut')).toBeLessThan(handles.length / 4)
  }, 60_000)
})

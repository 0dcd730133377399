import { afterEach, describe, expect, it } from 'vitest'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { deadline, identity, sleepSpec, stopAll, waitAll } from './helpers.ts'

const TASKS = 40

describe('work stealing across a TCP mesh', () => {
  let nodes: TaskmeshNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('idle peers steal an overloaded node’s tasks; every result reads the same at a third node by subscription and by DHT poll', async () => {
    nodes = await startLocalMesh({ nodes: 3, slots: [1, 2, 2] })
    const [a, b, c] = nodes

    const handles = await a.submitMany(Array.from({ length: TASKS }, (_, i) => sleepSpec(50, i)))
    const ids = handles.map((h) => h.id)
    expect(new Set(ids).size).toBe(TASKS)

    // Subscription at C, which only saw the announcement: an iterator and plain waits, both
    // started before the results land.
    const signal = deadline()
    const iterated: ResultRecord[] = []
    const iterating = (async () => {
      for await (const r of c.results(ids, signal)) iterated.push(r)
    })()
    const waited = await waitAll(c, ids)
    await iterating

    // Every task succeeded with its own output.
    expect(waited.map((r) => r.taskId)).toEqual(ids)
    waited.forEach((r, i) => {
      expect(r.status, `task ${i}`).toBe('succeeded')
      expect(r.output, `task ${i}`).toBe(i)
      expect(r.owner).toBe(a.peerId)
    })
    expect(iterated).toHaveLength(TASKS)
    expect(new Set(iterated.map((r) => r.taskId))).toEqual(new Set(ids))

    // Some ran elsewhere than at the owner, and the thieves' counters say so.
    const peerIds = new Set(nodes.map((n) => n.peerId))
    for (const r of waited) expect(peerIds.has(r.executor)).toBe(true)
    const elsewhere = waited.filter((r) => r.executor !== a.peerId)
    expect(elsewhere.length).toBeGreaterThan(0)
    const stolen = [b, c].map((n) => n.status().counters.tasksStolen)
    expect(Math.max(...stolen)).toBeGreaterThan(0)
    expect(elsewhere.length).toBe(stolen[0] + stolen[1])
    expect(a.status().counters.tasksGranted).toBeGreaterThanOrEqual(elsewhere.length)
    for (const r of elsewhere) expect(r.epoch).toBeGreaterThan(0)

    // Poll: once every node has stored its records, C reads each from the DHT, bypassing its cache.
    await Promise.all(nodes.map((n) => n.flushResults()))
    const pollSignal = deadline()
    const polled = await Promise.all(
      ids.map((id) => c.getResult(id, { skipCache: true, signal: pollSignal })),
    )
    polled.forEach((r, i) => {
      expect(r, `DHT record of task ${i}`).toBeDefined()
      expect(identity(r!)).toEqual(identity(waited[i]))
    })
    const byId = new Map(iterated.map((r) => [r.taskId, r]))
    for (const r of waited) expect(identity(byId.get(r.taskId)!)).toEqual(identity(r))
  })
})

import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { connectAll, startLocalMesh } from '../../src/simulation/mesh.ts'
import { deadline, sleepSpec, stopAll, waitFor } from './helpers.ts'

const AFTER_MS = 1_000

describe('unschedulable tasks', () => {
  let nodes: TaskmeshNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('a task needing a label no live node offers is reported with the reason, stays queued, and runs once a capable node joins', async () => {
    nodes = await startLocalMesh({
      nodes: 2,
      slots: 1,
      nodeOptions: () => ({ unschedulableAfterMs: AFTER_MS }),
    })
    const [a, b] = nodes
    const [gpu] = await a.submitMany([sleepSpec(10, 'rendered', { resources: { labels: ['gpu'] } })])
    const [plain] = await a.submitMany([sleepSpec(10, 'plain')])
    expect((await plain.result(deadline())).status).toBe('succeeded')

    // not flagged before unschedulableAfterMs, flagged (once the owner's 1 s check runs) after
    expect(a.status().unschedulable).toEqual([])
    await waitFor(() => a.status().unschedulable.length === 1, 5_000, 'the gpu task was never flagged')
    const [flagged] = a.status().unschedulable
    expect(a.status().unschedulableCount).toBe(1)
    expect(await a.metrics.text()).toMatch(/^taskmesh_tasks_unschedulable 1$/m)
    expect(flagged.id).toBe(gpu.id)
    expect(flagged.reasons).toEqual([
      `${a.peerId} (this node): label "gpu" missing`,
      `${b.peerId}: label "gpu" missing`,
    ])
    const state = await a.taskState(gpu.id)
    expect(state.state).toBe('unschedulable')
    expect(state.reason).toContain('label "gpu" missing')
    expect(await b.taskState(gpu.id)).toEqual(state) // B asks the owner
    expect(a.status().queued).toBe(1) // still queued
    expect(a.story(gpu.id).map((e) => e.event)).toContain('unschedulable')

    // a node offering `gpu` joins: its beacon makes the task stealable for it, and it runs there
    const g = await TaskmeshNode.create({ slots: 1, labels: ['gpu'], beaconIntervalMs: 1000 })
    nodes.push(g)
    await connectAll([a, b, g])
    const record = await gpu.result(deadline())
    expect(record).toMatchObject({ status: 'succeeded', output: 'rendered', executor: g.peerId })
    await waitFor(() => a.status().unschedulable.length === 0, 3_000, 'the flag stayed')
    expect(a.story(gpu.id).map((e) => e.event)).toEqual(
      expect.arrayContaining(['unschedulable', 'granted', 'completed']),
    )
  })
})

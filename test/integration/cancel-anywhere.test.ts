import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TaskmeshClient } from '../../src/client/taskmesh-client.ts'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { UnknownTaskError } from '../../src/task/errors.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { taskId } from '../../src/task/task-id.ts'
import { deadline, sleepSpec, stopAll } from './helpers.ts'

/** A task only a node with the label `gpu` can run: none here, so it stays queued at its owner. */
const gpuSleep = (output: string) => sleepSpec(10, output, { resources: { labels: ['gpu'] } })

describe('cancel and state at any node of a mesh larger than an owner and its custodians', () => {
  let nodes: TaskmeshNode[] = []

  beforeAll(async () => {
    nodes = await startLocalMesh({ nodes: 6, slots: 1 })
  })

  afterAll(async () => {
    await stopAll(nodes)
  })

  it('a node that knows nothing of a queued task learns its owner from its peers', async () => {
    const [a, ...others] = nodes
    const handles = await a.submitMany(others.map((_, i) => gpuSleep(`t${i}`)))
    // only the owner and its 2 custodians know the tasks: the other 3 nodes know nothing of them
    const local = await Promise.all(others.map((n) => n.taskState(handles[0].id, { forwarded: true })))
    const bystanders = others.filter((_, i) => local[i].state === 'unknown' && local[i].owner === undefined)
    expect(bystanders).toHaveLength(3)
    for (const n of others) {
      expect(await n.taskState(handles[0].id)).toMatchObject({
        state: expect.stringMatching(/^(queued|unschedulable)$/),
        owner: a.peerId,
      })
    }
    // a light client of a bystander sees the same over the submit protocol
    const client = await TaskmeshClient.connect(bystanders[0].multiaddrs[0])
    try {
      expect(await client.state(handles[1].id)).toMatchObject({ owner: a.peerId })
    } finally {
      await client.close()
    }
    // each node cancels one of the tasks: the owner ends it, whoever was asked
    for (const [i, n] of others.entries()) {
      await expect(n.cancel(handles[i].id)).resolves.toEqual({
        taskId: handles[i].id,
        outcome: 'cancelled',
        owner: a.peerId,
      })
      expect(n.story(handles[i].id).map((e) => e.event)).toContain('cancel-forwarded')
    }
    for (const h of handles) {
      expect(await h.result(deadline())).toMatchObject({
        status: 'failed',
        error: 'cancelled',
        owner: a.peerId,
      })
    }
    expect(a.status().queued).toBe(0)
  })

  it('an id no node knows is unknown everywhere, after every peer answered', async () => {
    const nobody = taskId(parseTaskSpec({ type: 'echo' }), 'nobody', 'x')
    for (const n of nodes) {
      expect(await n.taskState(nobody)).toEqual({ state: 'unknown' })
      await expect(n.cancel(nobody)).rejects.toThrow(UnknownTaskError)
    }
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { deadline, stopAll } from './helpers.ts'

/**
 * A task with a large output (a record of hundreds of KiB) run by a thief: its owner gets the
 * record with the completion, as for any other, so a wait at the owner ends with it, and the record
 * outlives the thief even where no copy was made.
 */
describe('a stolen task with a large output', () => {
  let nodes: TaskmeshNode[] = []

  beforeAll(async () => {
    // only B offers the label; no copies: what the owner holds, it got from the completion
    nodes = await startLocalMesh({
      nodes: 2,
      slots: 1,
      nodeOptions: (i) => ({ recordCopies: 0, ...(i === 1 ? { labels: ['thief'] } : {}) }),
    })
  })
  afterAll(() => stopAll(nodes))

  it('reaches a wait at its owner, and stays readable there once the thief is gone', async () => {
    const [a, b] = nodes
    const output = 'x'.repeat(200_000)
    const [task] = await a.submitMany([{ type: 'echo', input: output, resources: { labels: ['thief'] } }])
    const record = await task.result(deadline(10_000))
    expect(record).toMatchObject({ status: 'succeeded', executor: b.peerId, output })
    await b.stop()
    const read = await a.getResult(task.id, { signal: deadline(5_000) })
    expect(read).toMatchObject({ status: 'succeeded', executor: b.peerId, output })
  })
})

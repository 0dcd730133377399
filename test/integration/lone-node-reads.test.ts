import { afterAll, describe, expect, it, vi } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { taskId } from '../../src/task/task-id.ts'
import { stopAll } from './helpers.ts'

const nodes: TaskmeshNode[] = []
afterAll(() => stopAll(nodes))

/**
 * A node with no peer reads a task it does not know from its own store only: a DHT get with no
 * peer to ask waited out its whole deadline (a lone daemon's `taskmesh result` of another task, or
 * its first read after a restart, answered 5 s late).
 */
describe('a node alone', () => {
  it('answers a read of an unknown task from its own store, without a DHT lookup', async () => {
    const alone = await TaskmeshNode.create({ slots: 1 })
    nodes.push(alone)
    const gets = vi.spyOn(alone.libp2p.services.dht, 'get')
    const unknown = taskId(parseTaskSpec({ type: 'echo' }), 'nobody', 'never-submitted')
    expect(await alone.getResult(unknown)).toBeUndefined()
    expect(gets).not.toHaveBeenCalled()
  })
})

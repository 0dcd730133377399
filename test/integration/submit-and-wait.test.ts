import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CUSTODY_WAIT_MS } from '../../src/node/assemble-mesh.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { CUSTODY_PROTOCOL } from '../../src/protocol/constants.ts'
import { connectAll, waitForMesh } from '../../src/simulation/mesh.ts'
import { deadline, stopAll } from './helpers.ts'

/**
 * An owner whose two custodians take custody frames and never answer: its acceptance (journal and
 * custody) ends only when the custody wait runs out. A submission whose results are in by then is
 * answered with them at once, and a task that ended within the grace is never handed over;
 * anything else waits for the acceptance.
 */
describe('submit and wait: the results in hand answer before custody does', () => {
  let nodes: TaskmeshNode[] = []

  beforeAll(async () => {
    nodes = await Promise.all([0, 1, 2].map(() => TaskmeshNode.create({ transport: 'tcp', slots: 2 })))
    for (const custodian of nodes.slice(1)) {
      await custodian.libp2p.unhandle(CUSTODY_PROTOCOL)
      // a custodian that reads nothing and answers nothing (a hung peer)
      await custodian.libp2p.handle(CUSTODY_PROTOCOL, () => undefined)
    }
    await connectAll(nodes)
    await waitForMesh(nodes)
  })

  afterAll(async () => {
    await stopAll(nodes)
  })

  const announced = (node: TaskmeshNode, id: string) => node.story(id).some((e) => e.event === 'announced')

  it('a task that ends within the grace is answered with its result and never handed to custodians', async () => {
    const [a] = nodes
    const announcedIds: string[] = []
    const off = a.onTaskEvent((e) => {
      if (e.event === 'announced') announcedIds.push(e.taskId)
    })
    const asked = performance.now()
    const { handles, results } = await a.submitAndWait([{ type: 'echo', input: 'now' }], {
      signal: deadline(),
    })
    expect(performance.now() - asked).toBeLessThan(CUSTODY_WAIT_MS)
    expect(results).toMatchObject([{ taskId: handles[0].id, status: 'succeeded', output: 'now' }])
    // a task still running after its grace is handed over: by then the first one's grace is over
    const wait = new AbortController()
    const running = a.submitAndWait([{ type: 'sleep', input: { ms: 60_000 } }], { signal: wait.signal })
    await expect.poll(() => announcedIds.length, { timeout: 2 * CUSTODY_WAIT_MS }).toBe(1)
    expect(announcedIds).not.toContain(handles[0].id)
    expect(announced(a, handles[0].id)).toBe(false)
    wait.abort()
    const late = await running
    expect(late.results).toEqual([null])
    expect(announcedIds).toEqual([late.handles[0].id])
    off()
    await a.cancel(late.handles[0].id)
  })

  it('a plain submission is answered only once custody answered or its wait ran out', async () => {
    const [a] = nodes
    const asked = performance.now()
    const [handle] = await a.submitMany([{ type: 'echo', input: 'later' }])
    expect(performance.now() - asked).toBeGreaterThanOrEqual(CUSTODY_WAIT_MS - 10)
    expect(announced(a, handle.id)).toBe(true)
  })

  it('a task without a result when the wait ends is answered null, and only once accepted', async () => {
    const [a] = nodes
    const asked = performance.now()
    const { handles, results } = await a.submitAndWait([{ type: 'sleep', input: { ms: 60_000 } }], {
      signal: AbortSignal.timeout(50),
    })
    expect(results).toEqual([null])
    expect(performance.now() - asked).toBeGreaterThanOrEqual(CUSTODY_WAIT_MS - 10)
    expect(announced(a, handles[0].id)).toBe(true)
    expect(await a.taskState(handles[0].id)).toMatchObject({ state: 'running' })
  })
})

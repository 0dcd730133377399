import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { deadline, sleepSpec, stopAll } from './helpers.ts'

/** How a promise stands, read without waiting for it. */
function track<T>(p: Promise<T>): { state: 'pending' | 'fulfilled' | 'rejected'; reason?: unknown } {
  const t: { state: 'pending' | 'fulfilled' | 'rejected'; reason?: unknown } = { state: 'pending' }
  p.then(
    () => {
      t.state = 'fulfilled'
    },
    (reason: unknown) => {
      t.state = 'rejected'
      t.reason = reason
    },
  )
  return t
}

/** Resolves once `count` tasks of `node` started running. */
function started(node: TaskmeshNode, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0
    const off = node.onTaskEvent((e) => {
      if (e.event === 'started' && ++seen === count) {
        off()
        resolve()
      }
    })
  })
}

/** A well-formed id of a task no node knows. */
const UNKNOWN = 'bafkreigqh45lr5f4altlppfw2rhbf5tvsp4tj4vqdmkocufiu52htjsmka'

describe('a stopped node ends its waits', () => {
  let node: TaskmeshNode | undefined

  afterEach(async () => {
    await stopAll([node])
    node = undefined
  })

  it('rejects every wait still pending when stop resolves, with ERR_NODE_STOPPED naming the task', async () => {
    node = await TaskmeshNode.create({ transport: 'tcp', slots: 2 })
    const running = started(node, 2)
    const [handle] = await node.submitMany([sleepSpec(60_000)])
    const waited = node.submitAndWait([sleepSpec(60_000)], { signal: AbortSignal.timeout(60_000) })
    await running // both runs under way: the submission waits for its result
    const results = (async () => {
      const got: ResultRecord[] = []
      for await (const r of (node as TaskmeshNode).results([handle.id])) got.push(r)
      return got
    })()
    const waits = {
      result: track(handle.result()),
      results: track(results),
      submitAndWait: track(waited),
      waitResult: track(node.waitResult(handle.id, deadline(60_000))),
      waitForPeers: track(node.waitForPeers(1, AbortSignal.timeout(60_000))),
    }
    await node.stop()
    await new Promise((resolve) => setImmediate(resolve)) // the rejections' handlers ran
    for (const [name, t] of Object.entries(waits)) {
      expect({ name, state: t.state }).toEqual({ name, state: 'rejected' })
      expect(t.reason).toMatchObject({ code: 'ERR_NODE_STOPPED' })
    }
    expect((waits.result.reason as Error).message).toBe(
      `the node stopped before task ${handle.id} had a result`,
    )
    expect((waits.results.reason as Error).message).toBe(
      `the node stopped before task ${handle.id} had a result`,
    )
    expect((waits.submitAndWait.reason as Error).message).toMatch(
      /^the node stopped before task \S+ had a result$/,
    )
  })

  it('after stop: answers from what it holds, refuses the rest with ERR_NODE_STOPPED', async () => {
    node = await TaskmeshNode.create({ transport: 'tcp', slots: 2 })
    const running = started(node, 1)
    const [sleeper] = await node.submitMany([sleepSpec(60_000)])
    await running
    const [done] = await node.submitMany([{ type: 'echo', input: 'kept' }])
    await node.waitResult(done.id, deadline())
    await node.stop()

    const stopped = { code: 'ERR_NODE_STOPPED' }
    expect(await node.getResult(done.id)).toMatchObject({ taskId: done.id, output: 'kept' })
    expect(await node.waitResult(done.id)).toMatchObject({ taskId: done.id, output: 'kept' })
    await expect(node.getResult(UNKNOWN)).rejects.toMatchObject({
      ...stopped,
      message: `cannot look up the result of task ${UNKNOWN}: the node has stopped`,
    })
    await expect(node.getResult(sleeper.id)).rejects.toMatchObject(stopped)
    await expect(node.waitResult(UNKNOWN)).rejects.toMatchObject({
      ...stopped,
      message: `the node stopped before task ${UNKNOWN} had a result`,
    })
    await expect(node.signedResult(UNKNOWN, { wait: true })).rejects.toMatchObject(stopped)
    await expect(node.cancel(sleeper.id)).rejects.toMatchObject({
      ...stopped,
      message: `cannot cancel task ${sleeper.id}: the node has stopped`,
    })
    await expect(node.taskState(sleeper.id)).rejects.toMatchObject(stopped)
    await expect(node.waitForPeers(1)).rejects.toMatchObject(stopped)
    const gen = node.results([UNKNOWN])
    await expect(gen.next()).rejects.toMatchObject(stopped)
    // what it knows locally still reads
    expect(node.story(sleeper.id).length).toBeGreaterThan(0)
    expect(node.status().peerId).toBe(node.peerId)
    expect(node.listTasks().tasks.length).toBeGreaterThan(0)
  })
})

describe('submitAndWait without options', () => {
  let node: TaskmeshNode | undefined

  afterEach(async () => {
    await stopAll([node])
    node = undefined
  })

  it('waits with its default deadline', async () => {
    node = await TaskmeshNode.create({ transport: 'tcp', slots: 1 })
    const { handles, results } = await node.submitAndWait([{ type: 'echo', input: 'no options' }])
    expect(results).toEqual([expect.objectContaining({ taskId: handles[0].id, output: 'no options' })])
    const bare = node as unknown as { submitAndWait(specs: unknown[], opts?: unknown): Promise<unknown> }
    await expect(bare.submitAndWait([{ type: 'echo', input: 1 }], { signal: 5 })).rejects.toMatchObject({
      code: 'ERR_INVALID_TASK',
      field: 'signal',
    })
  })
})

import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import type { TaskmeshNodeOptions } from '../../src/node/options.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { connectAll, waitForMesh } from '../../src/simulation/mesh.ts'
import { sleepSpec, stopAll, WAIT_MS, waitFor } from './helpers.ts'

/** `flaky`: fails its first attempt after `ms`, succeeds on the next one. */
async function registry(): Promise<HandlerRegistry> {
  const r = await HandlerRegistry.withBuiltins()
  return r.register('flaky', {
    mode: 'inline',
    run: async (input, ctx) => {
      await new Promise((resolve) => setTimeout(resolve, (input as { ms: number }).ms))
      if (ctx.attempt === 1) throw new Error('the first attempt fails')
      return `attempt ${ctx.attempt}`
    },
  })
}

async function node(opts: Partial<TaskmeshNodeOptions>): Promise<TaskmeshNode> {
  return TaskmeshNode.create({
    slots: 1,
    transport: 'tcp',
    beaconIntervalMs: 1000,
    registry: await registry(),
    ...opts,
  })
}

/** A task only the node offering `label` can run: it keeps that node's slot busy. */
const pinned = (label: string, ms: number) => sleepSpec(ms, null, { resources: { labels: [label] } })

/** Backoff of the first retry is at most 100 ms; a steal hop on loopback takes a few ms more. */
const BACKOFF_PLUS_HOP_MS = 1_500

describe('a retry goes where a slot is free (the executor’s slots are busy)', () => {
  let nodes: TaskmeshNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('a stolen task’s failed attempt goes back to its owner, and a free node steals the retry', async () => {
    // A owns the task but its slot is busy; B steals it, fails, and then runs a long task of its own
    const a = await node({ labels: ['a-only'] })
    const b = await node({ labels: ['b-only'] })
    nodes = [a, b]
    await connectAll(nodes)
    await waitForMesh(nodes)
    await a.submit(pinned('a-only', 60_000))
    await waitFor(() => a.status().running === 1, WAIT_MS, 'A did not start its long task')
    const flaky = await a.submit({ type: 'flaky', input: { ms: 300 }, maxAttempts: 3 })
    await waitFor(() => b.status().running === 1, WAIT_MS, 'B did not steal the flaky task')
    await b.submit(pinned('b-only', 60_000)) // queued at B behind the flaky run: its slot's next task

    // C joins with a free slot once B is committed
    const failedAt = await new Promise<number>((resolve) => {
      const check = setInterval(() => {
        if (b.story(flaky.id).some((e) => e.event === 'retried')) {
          clearInterval(check)
          resolve(Date.now())
        }
      }, 5)
    })
    const c = await node({ bootstrap: [a.multiaddrs[0]] })
    nodes.push(c)
    await c.libp2p.dial(multiaddr(b.multiaddrs[0]))
    await waitForMesh(nodes)

    const record = await flaky.result(AbortSignal.timeout(WAIT_MS))
    expect(record.status).toBe('succeeded')
    expect(record.output).toBe('attempt 2')
    expect(record.executor).toBe(c.peerId)
    expect(record.attempts.map((x) => [x.executor, x.error])).toEqual([
      [b.peerId, 'the first attempt fails'],
      [c.peerId, undefined],
    ])
    // the retry started within the backoff plus one steal hop of C being able to take it
    const started = c.story(flaky.id).find((e) => e.event === 'started')
    expect(started).toBeDefined()
    expect(b.status().running).toBe(1) // B's slot stayed busy with its own long task
    expect(a.story(flaky.id).map((e) => e.event)).toContain('released')
    expect(started!.at - failedAt).toBeLessThan(BACKOFF_PLUS_HOP_MS + 5_000) // C's start-up included
  })

  it('a retry waiting at its owner, whose slot is taken meanwhile, is stolen by a free node', async () => {
    const a = await node({ labels: ['a-only'] })
    const b = await node({})
    nodes = [a, b]
    await connectAll(nodes)
    await waitForMesh(nodes)
    // A runs the flaky task at once (its slot is free); the long task, only A can run, waits behind it
    const [flaky] = await a.submitMany([
      { type: 'flaky', input: { ms: 200 }, maxAttempts: 3 },
      pinned('a-only', 60_000),
    ])
    const record = await flaky.result(AbortSignal.timeout(WAIT_MS))
    expect(record.status).toBe('succeeded')
    expect(record.executor).toBe(b.peerId)
    expect(record.attempts.map((x) => [x.executor, x.error])).toEqual([
      [a.peerId, 'the first attempt fails'],
      [b.peerId, undefined],
    ])
    const retried = a.story(flaky.id).find((e) => e.event === 'retried')
    const started = b.story(flaky.id).find((e) => e.event === 'started')
    expect(started!.at - retried!.at).toBeLessThan(BACKOFF_PLUS_HOP_MS)
    expect(a.status().running).toBe(1) // the long task took A's slot
  })
})

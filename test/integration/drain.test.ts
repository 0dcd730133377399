import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { QueueFullError } from '../../src/task/errors.ts'
import { deadline, sleepSpec, stopAll, WAIT_MS, waitFor } from './helpers.ts'

const LONG_MS = 60_000

describe('draining a node before it stops', () => {
  let nodes: TaskmeshNode[] = []
  const dirs: string[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  it('waits for the runs under way, publishes them, and takes no new submission meanwhile', async () => {
    nodes = await startLocalMesh({ nodes: 2, slots: 1 })
    const [a, b] = nodes
    const [task] = await a.submitMany([sleepSpec(600, 'drained')])
    await waitFor(() => a.status().running === 1, WAIT_MS, 'A did not start its task')
    const stopped = a.stop({ drainTimeoutMs: WAIT_MS })
    await expect(a.submit(sleepSpec(1))).rejects.toThrow(QueueFullError)
    await expect(a.submit(sleepSpec(1))).rejects.toThrow(/draining/)
    await stopped
    const record = await b.waitResult(task.id, deadline())
    expect(record).toMatchObject({ status: 'succeeded', output: 'drained', executor: a.peerId })
    expect(record.attempts).toHaveLength(1)
    expect(b.story(task.id).map((e) => e.event)).not.toContain('started') // not run again
  })

  it('past the drain timeout a stolen run goes back to its owner as interrupted, and runs again there', async () => {
    // B's sleeps last 1,000 times as long: its run of the long task is always still under way when
    // its drain ends; A's run of it takes 1.5 s
    nodes = await startLocalMesh({
      nodes: 2,
      slots: 1,
      nodeOptions: (i) => (i === 1 ? { speed: 0.001 } : {}),
    })
    const [a, b] = nodes
    // A's slot is busy (until the test cancels its blocker), so B steals the long task
    const blocker = await a.submit(sleepSpec(LONG_MS, 'blocker'))
    const [task] = await a.submitMany([sleepSpec(1_500, 'long')])
    await waitFor(() => b.status().running === 1, WAIT_MS, 'B did not steal the task')
    await a.cancel(blocker.id)
    const asked = Date.now()
    await b.stop({ drainTimeoutMs: 200 })
    expect(Date.now() - asked).toBeLessThan(5_000)
    const record = await a.waitResult(task.id, deadline())
    expect(record).toMatchObject({ status: 'succeeded', output: 'long', executor: a.peerId })
    expect(record.attempts).toMatchObject([
      { executor: b.peerId, cut: 'interrupted', error: 'interrupted: its node stopped' },
      { executor: a.peerId },
    ])
    expect(a.status().counters.executorsLost).toBe(0) // handed back, not lost
    expect(a.story(task.id).map((e) => e.event)).toContain('released')
  })

  it('a second stop ends the drain at once', async () => {
    nodes = await startLocalMesh({ nodes: 2, slots: 1 })
    const [a] = nodes
    await a.submit(sleepSpec(LONG_MS))
    await waitFor(() => a.status().running === 1, WAIT_MS, 'A did not start its task')
    const asked = Date.now()
    const first = a.stop({ drainTimeoutMs: LONG_MS })
    await waitFor(() => a.status().running === 1, WAIT_MS, 'unreachable')
    await Promise.all([first, a.stop()])
    expect(Date.now() - asked).toBeLessThan(10_000)
  })

  it('an owner’s own run cut short is journalled: after a restart its record lists it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'taskmesh-drain-'))
    dirs.push(dataDir)
    const options = { dataDir, slots: 1, beaconIntervalMs: 100, failureDetectionMs: 500 }
    // the first node's sleeps last 1,000 times as long: its run is always still under way at the stop
    const first = await TaskmeshNode.create({ ...options, speed: 0.001 })
    nodes = [first]
    const [task] = await first.submitMany([sleepSpec(1_000, 'again')])
    await waitFor(() => first.status().running === 1, WAIT_MS, 'the task did not start')
    await first.stop({ drainTimeoutMs: 50 })
    const second = await TaskmeshNode.create(options)
    nodes.push(second)
    const record = await second.waitResult(task.id, deadline())
    expect(record).toMatchObject({ status: 'succeeded', output: 'again', executor: second.peerId })
    expect(record.attempts).toMatchObject([
      { executor: first.peerId, cut: 'interrupted' },
      { executor: second.peerId },
    ])
    expect(record.attempts[1].epoch).toBeGreaterThan(record.attempts[0].epoch)
  })
})

import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { createAgingPolicy, type QueuePolicy, STRICT_PRIORITY } from '../../src/policy/priority.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { MAX_PRIORITY, MIN_PRIORITY } from '../../src/task/limits.ts'
import { deadline, sleepSpec, stopAll } from './helpers.ts'

/** Top-priority tasks kept queued at all times while the stream runs. */
const QUEUED = 3
/** Each top-priority task sleeps this long, ms. */
const HIGH_MS = 25

interface Run {
  low: ResultRecord
  highs: ResultRecord[]
}

/**
 * Keeps `QUEUED` top-priority tasks queued at a one-slot node (each finished one is replaced at
 * once) until `count` have run, and submits one lowest-priority task once the stream flows.
 */
async function saturate(node: TaskmeshNode, count: number): Promise<Run> {
  const highs: ResultRecord[] = []
  let submitted = 0
  let finishStream: () => void = () => undefined
  const streamDone = new Promise<void>((resolve) => {
    finishStream = resolve
  })
  const submitHigh = async (): Promise<void> => {
    if (submitted >= count) return
    submitted++
    const [h] = await node.submitMany([sleepSpec(HIGH_MS, null, { priority: MAX_PRIORITY })])
    void h.result(deadline(60_000)).then((r) => {
      highs.push(r)
      if (highs.length === count) finishStream()
      return submitHigh()
    })
  }
  for (let i = 0; i < QUEUED; i++) await submitHigh()
  const [low] = await node.submitMany([sleepSpec(1, 'low', { priority: MIN_PRIORITY })])
  const lowRecord = await low.result(deadline(60_000))
  await streamDone
  return { low: lowRecord, highs }
}

describe('no starvation (promise 4) on a real node', () => {
  let nodes: TaskmeshNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  const node = async (queuePolicy: QueuePolicy) => {
    const n = await TaskmeshNode.create({ slots: 1, queuePolicy })
    nodes.push(n)
    return n
  }

  it('aging: the lowest-priority task runs while top-priority work keeps arriving', async () => {
    // τ = 300 ms: a lowest-priority task outranks fresh top-priority work after about 0.4 s
    const n = await node(createAgingPolicy({ tauMs: 300, steepnessPerSecond: 20 }))
    const { low, highs } = await saturate(n, 120)
    expect(low.status).toBe('succeeded')
    // it did not wait for the stream to run dry: top-priority tasks kept running after it
    const after = highs.filter((h) => h.startedAt >= low.finishedAt)
    expect(after.length).toBeGreaterThan(QUEUED)
  })

  it('strict (the control): the lowest-priority task waits until the stream has run dry', async () => {
    const n = await node(STRICT_PRIORITY)
    const { low, highs } = await saturate(n, 40)
    expect(low.status).toBe('succeeded')
    expect(highs.every((h) => h.finishedAt <= low.startedAt)).toBe(true)
  })
})

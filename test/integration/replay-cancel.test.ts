import { describe, expect, it } from 'vitest'
import { nodeOnDataDir } from './data-dir-node.ts'

/** A lone node's replay waits this long for a peer before it takes its tasks back. */
const ALONE_MS = 5_000

/** Each life of the node: its replay waits a long detection window for a peer that never comes. */
const LIFE = { durability: 'sync', slots: 1, beaconIntervalMs: 1_000, failureDetectionMs: ALONE_MS } as const

/**
 * Right after a restart, a task in the journal is the node's own before its replay takes it back
 * (it waits for a peer, or the failure-detection window): its state is `queued`, and a cancel
 * takes it back at once and cancels it. Before, both said no node knew it (`ERR_UNKNOWN_TASK`).
 */
describe('a task journalled before a restart, not replayed yet', () => {
  const life = nodeOnDataDir('taskmesh-replay-cancel-')

  it('stands queued, and a cancel ends it as cancelled without waiting for the replay', async () => {
    let node = await life.start(LIFE)
    const [running, queued] = await node.submitMany([
      { type: 'sleep', input: { ms: 600_000 } },
      { type: 'sleep', input: { ms: 600_000 } },
    ])
    await node.stop()
    node = await life.start(LIFE)
    const started = performance.now()
    expect(await node.taskState(queued.id)).toMatchObject({ state: 'queued', owner: node.peerId })
    expect(await node.cancel(queued.id)).toEqual({
      taskId: queued.id,
      outcome: 'cancelled',
      owner: node.peerId,
    })
    expect(performance.now() - started).toBeLessThan(ALONE_MS) // the replay's wait did not hold it
    expect(await node.getResult(queued.id)).toMatchObject({ status: 'failed', error: 'cancelled' })
    // the other is still the replay's: queued again once it runs
    expect(await node.taskState(running.id)).toMatchObject({ state: 'queued' })
  }, 30_000)
})

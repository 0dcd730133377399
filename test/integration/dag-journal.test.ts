import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { JOURNAL_FILE, TaskJournal } from '../../src/node/owner/journal.ts'
import { NodeStoppedError } from '../../src/task/errors.ts'
import { nodeOnDataDir } from './data-dir-node.ts'
import { eventAt, waitAll } from './helpers.ts'

/**
 * A task that waits for its dependencies is in its owner's journal from the moment its submission
 * is acknowledged, and a restart puts it back behind them: it runs once they succeeded, fails when
 * one failed — never lost, never run before them.
 */

/** A lone node's replay waits this long for a peer before it requeues (its failure-detection window). */
const ALONE_MS = 300

/** Each life of the node (a lone one: its replay waits {@link ALONE_MS}). */
const LIFE = { durability: 'sync', slots: 1, beaconIntervalMs: 100, failureDetectionMs: ALONE_MS } as const

describe('a task graph in its owner’s journal', () => {
  const life = nodeOnDataDir('taskmesh-dag-journal-')

  it('holds a waiting dependent once its submission is acknowledged, with its dependency, in one group commit', async () => {
    const dir = await life.dir()
    const node = await life.start(LIFE)
    const before = node.status().accounting.journal
    const [p, c] = await node.submitMany([
      { key: 'p', type: 'sleep', input: { ms: 600_000 } },
      { key: 'c', type: 'echo', input: 'child', dependsOn: ['p'] },
    ])
    expect(await node.taskState(c.id)).toMatchObject({ state: 'waiting' })
    // what a kill -9 now would leave on the disk: both tasks
    const journalled = await new TaskJournal(join(dir, JOURNAL_FILE)).replay()
    expect(journalled.map((t) => t.id)).toEqual([p.id, c.id])
    const after = node.status().accounting.journal
    expect(after.writes - before.writes).toBe(1)
    expect(after.syncs - before.syncs).toBe(1)
  })

  it('after a stop and a restart, runs the waiting dependent once its replayed dependency succeeded', async () => {
    let node = await life.start(LIFE)
    const [p, c] = await node.submitMany([
      { key: 'p', type: 'sleep', input: { ms: 1_000, output: 'parent' } },
      { key: 'c', type: 'echo', input: 'child', dependsOn: ['p'] },
    ])
    await eventAt(node, p.id, 'started')
    await node.stop()
    // a stopped node refuses submissions for good: not a full queue to retry
    const refusal = await node.submitMany([{ type: 'echo', input: 'late' }]).catch((err: unknown) => err)
    expect(refusal).toBeInstanceOf(NodeStoppedError)
    expect(refusal).toMatchObject({
      code: 'ERR_NODE_STOPPED',
      message: 'the node is stopped: submit to a running node',
    })

    node = await life.start(LIFE)
    const [pr, cr] = await waitAll(node, [p.id, c.id])
    expect(pr).toMatchObject({ status: 'succeeded', output: 'parent', executor: node.peerId })
    expect(cr).toMatchObject({ status: 'succeeded', output: 'child', executor: node.peerId })
    expect(cr.startedAt).toBeGreaterThanOrEqual(pr.finishedAt)
    const story = node.story(c.id).map((e) => e.event)
    expect(story).toContain('waiting-on-deps')
    expect(story.indexOf('queued')).toBeGreaterThan(story.indexOf('waiting-on-deps'))
  }, 30_000)

  it('after a restart, fails the waiting dependent of a replayed dependency that fails, as it would have live', async () => {
    const dir = await life.dir()
    let node = await life.start(LIFE)
    const [p, c, d] = await node.submitMany([
      { key: 'p', type: 'sleep', input: { ms: 600_000 } },
      { key: 'c', type: 'echo', input: 'child', dependsOn: ['p'] },
      { key: 'd', type: 'echo', input: 'grandchild', dependsOn: ['c'] },
    ])
    await node.stop()
    node = await life.start(LIFE)
    await eventAt(node, c.id, 'waiting-on-deps')
    expect((await node.cancel(p.id)).outcome).toBe('cancelled')
    const [pr, cr, dr] = await waitAll(node, [p.id, c.id, d.id])
    expect(pr).toMatchObject({ status: 'failed', error: 'cancelled' })
    expect(cr).toMatchObject({ status: 'failed', error: `dependency ${p.id} failed: cancelled` })
    expect(dr).toMatchObject({ status: 'failed', error: `dependency ${c.id} failed: ${cr.error}` })
    expect(cr.owner).toBe(node.peerId)
    // ended, each has its `done`: a third life replays nothing
    await node.stop()
    expect(await new TaskJournal(join(dir, JOURNAL_FILE)).replay()).toEqual([])
  }, 30_000)

  it('after a restart, releases a dependent whose dependency had succeeded before: its record is read from the local store', async () => {
    let node = await life.start(LIFE)
    const [p, c] = await node.submitMany([
      { key: 'p', type: 'echo', input: 'parent' },
      { key: 'c', type: 'sleep', input: { ms: 800, output: 'child' }, dependsOn: ['p'] },
    ])
    await eventAt(node, c.id, 'started') // p succeeded, c runs: the stop cuts its run short
    await node.stop()
    node = await life.start(LIFE)
    const [cr] = await waitAll(node, [c.id])
    expect(cr).toMatchObject({ status: 'succeeded', output: 'child', executor: node.peerId })
    // the run the stop cut short, kept by the journal, then the run after the restart
    expect(cr.attempts.map((a) => a.error)).toEqual(['interrupted: its node stopped', undefined])
    expect(node.story(c.id).map((e) => e.event)).toContain('waiting-on-deps')
    expect((await node.getResult(p.id))?.output).toBe('parent')
  }, 30_000)
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StoryEvent } from '../../src/node/story/story.ts'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { deadline, sleepSpec, stopAll, waitFor } from './helpers.ts'

/** The first event of a kind in a story. */
const find = (story: StoryEvent[], event: string) => story.find((e) => e.event === event)

describe('task stories', () => {
  let nodes: TaskmeshNode[] = []

  beforeAll(async () => {
    // only B offers the label: a task that needs it is B's to steal, whatever A's slot does
    nodes = await startLocalMesh({
      nodes: 2,
      slots: 1,
      nodeOptions: (i) => (i === 1 ? { labels: ['thief'] } : {}),
    })
  })
  afterAll(async () => {
    await stopAll(nodes)
  })

  it("a stolen task's story: the owner granted it to the thief under an epoch; the thief stole, started and finished it", async () => {
    const [a, b] = nodes
    // A runs a task of its own meanwhile (its story is checked below)
    const [ownRun] = await a.submitMany([sleepSpec(500, 'own')])
    const [task] = await a.submitMany([sleepSpec(50, 'stolen', { resources: { labels: ['thief'] } })])
    const record = await task.result(deadline())
    expect(record.executor).toBe(b.peerId)
    await waitFor(() => find(b.story(task.id), 'stored') !== undefined, 3_000, 'the thief never stored it')

    const owner = a.story(task.id)
    expect(owner.map((e) => e.event).slice(0, 2)).toEqual(['accepted', 'queued'])
    expect(owner.map((e) => e.event)).toEqual(expect.arrayContaining(['announced', 'granted', 'completed']))
    // granted when B asked, or in an offer to idle B (`offered: true`): the same lease either way
    expect(find(owner, 'granted')?.detail).toMatchObject({ to: b.peerId, epoch: record.epoch })
    expect(find(owner, 'completed')?.detail).toEqual({
      by: b.peerId,
      epoch: record.epoch,
      outcome: 'accepted',
      status: 'succeeded',
    })

    const thief = b.story(task.id)
    expect(thief.map((e) => e.event)).toEqual(['stolen', 'started', 'finished', 'stored'])
    expect(find(thief, 'stolen')?.detail).toEqual({ from: a.peerId, epoch: record.epoch })
    expect(find(thief, 'started')?.detail).toEqual({ epoch: record.epoch, attempt: 1 })
    expect(find(thief, 'finished')?.detail).toEqual({ status: 'succeeded', epoch: record.epoch })
    for (const story of [owner, thief]) {
      const times = story.map((e) => e.at)
      expect(times).toEqual([...times].sort((x, y) => x - y))
    }

    // the owner's own run: started and finished at the owner, nothing granted
    const own = a.story(ownRun.id).map((e) => e.event)
    await ownRun.result(deadline())
    expect(own).toEqual(expect.arrayContaining(['accepted', 'queued', 'started']))
    expect(a.story(ownRun.id).map((e) => e.event)).toContain('finished')
    expect(own).not.toContain('granted')
    expect(b.story('bafkreid4hcai5oopfx7op22mh7hx3ei4yjtbif4oivw2djwcxp7s5glmxm')).toEqual([])
  })
})

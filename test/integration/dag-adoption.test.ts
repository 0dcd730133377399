import { afterEach, describe, expect, it } from 'vitest'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { eventAt, stopAll, waitAll } from './helpers.ts'

/**
 * The custodians of an owner that dies while a graph's dependents wait there adopt the dependents
 * behind their dependencies: held until those succeeded at whichever node adopted them, then run
 * with their outputs — never run before them.
 */

const BEACON_MS = 200
const common = { beaconIntervalMs: BEACON_MS, failureDetectionMs: 3 * BEACON_MS + 600 }
/** How long each parent sleeps: far past the owner's death, so none ends at the owner. */
const PARENT_MS = 1_500
/** Graphs submitted at once: their tasks' successors are spread over both custodians. */
const GRAPHS = 4

describe('a dead owner’s task graph', () => {
  let nodes: TaskmeshNode[] = []
  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('is adopted with each dependent behind its dependency: the dependent runs once the adopted dependency succeeded, with its output', async () => {
    const registry = await HandlerRegistry.withBuiltins()
    registry.register('collect', { run: (input, ctx) => ({ input, deps: ctx.dependencies }) })
    // the owner runs every parent itself (enough slots): no thief holds one under its lease
    nodes = await startLocalMesh({
      nodes: 3,
      slots: [GRAPHS, 2, 2],
      nodeOptions: () => ({ ...common, registry }),
    })
    const [owner, b, c] = nodes
    const handles = await owner.submitMany(
      Array.from({ length: GRAPHS }, (_, i) => [
        { key: `p${i}`, type: 'sleep', input: { ms: PARENT_MS, output: `parent ${i}` } },
        { key: `c${i}`, type: 'collect', input: `child ${i}`, dependsOn: [`p${i}`] },
      ]).flat(),
    )
    expect(owner.status().waiting).toBe(GRAPHS)
    await owner.libp2p.stop() // the owner dies: its custodians adopt its tasks

    const records = await waitAll(
      b,
      handles.map((h) => h.id),
    )
    const adopters = new Set<string>()
    for (let i = 0; i < GRAPHS; i++) {
      const [p, child] = [records[2 * i], records[2 * i + 1]]
      expect(p, `parent ${i}`).toMatchObject({ status: 'succeeded', output: `parent ${i}` })
      expect(child, `child ${i}`).toMatchObject({
        status: 'succeeded',
        output: { input: `child ${i}`, deps: { [p.taskId]: `parent ${i}` } },
      })
      // the child ran once, after its parent, at a node that adopted it
      expect(child.attempts, `child ${i}`).toHaveLength(1)
      expect(child.startedAt).toBeGreaterThanOrEqual(p.finishedAt)
      expect([b.peerId, c.peerId]).toContain(child.owner)
      adopters.add(child.owner)
      const adopter = child.owner === b.peerId ? b : c
      expect(adopter.story(child.taskId).map((e) => e.event)).toEqual(
        expect.arrayContaining(['adopted', 'waiting-on-deps', 'queued']),
      )
    }
    expect(adopters.size).toBeGreaterThan(0)
  }, 60_000)

  it('a waiting dependent cancelled at its adopter is cancelled above the dead owner’s epochs', async () => {
    nodes = await startLocalMesh({ nodes: 3, slots: [2, 2, 2], nodeOptions: () => common })
    const [owner, b, c] = nodes
    const killedAt = Date.now()
    const [, child] = await owner.submitMany([
      { key: 'p', type: 'sleep', input: { ms: 60_000 } },
      { key: 'c', type: 'echo', input: 'child', dependsOn: ['p'] },
    ])
    await owner.libp2p.stop()
    const adopted = await Promise.any([b, c].map((n) => eventAt(n, child.id, 'adopted').then(() => n)))
    expect(await adopted.cancel(child.id)).toMatchObject({ outcome: 'cancelled', owner: adopted.peerId })
    const [record] = await waitAll(adopted, [child.id])
    expect(record).toMatchObject({ status: 'failed', error: 'cancelled', owner: adopted.peerId })
    // the adoption's floor: the wall clock's ms, above every epoch the dead owner allocated
    expect(record.epoch).toBeGreaterThanOrEqual(killedAt)
  }, 60_000)
})

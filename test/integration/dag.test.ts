import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { InvalidTaskError } from '../../src/task/errors.ts'
import { deadline, stopAll, waitAll } from './helpers.ts'

/** How long the owner's only slot stays busy, so the graph's tasks are stolen. */
const BLOCKER_MS = 4_000

describe('task graphs (DAGs) across a TCP mesh', () => {
  let nodes: TaskmeshNode[] = []
  let a: TaskmeshNode
  let b: TaskmeshNode
  let c: TaskmeshNode

  beforeAll(async () => {
    // `collect` returns its input and the outputs of its dependencies, as the handler saw them
    const registry = await HandlerRegistry.withBuiltins()
    registry.register('collect', { run: (input, ctx) => ({ input, deps: ctx.dependencies }) })
    nodes = await startLocalMesh({ nodes: 3, slots: [1, 2, 2], nodeOptions: () => ({ registry }) })
    ;[a, b, c] = nodes
  })

  afterAll(async () => {
    await stopAll(nodes)
  })

  it('runs a diamond whose middle tasks are stolen: outputs flow to the join task', async () => {
    // A's only slot is busy: everything of the graph is stolen by B and C
    const [blocker] = await a.submitMany([{ type: 'sleep', input: { ms: BLOCKER_MS, output: 'blocked' } }])
    const handles = await a.submitMany([
      { key: 'join', type: 'collect', input: 'join', dependsOn: ['left', 'right'] },
      { key: 'left', type: 'collect', input: 'left', dependsOn: ['root'] },
      { key: 'right', type: 'collect', input: 'right', dependsOn: ['root'] },
      { key: 'root', type: 'collect', input: 'root' },
    ])
    const [join, left, right, root] = handles
    expect(handles.map((h) => h.key)).toEqual(['join', 'left', 'right', 'root'])
    expect(join.task.spec.dependsOn).toEqual([left.id, right.id])
    expect(left.task.spec.dependsOn).toEqual([root.id])

    // the join waits at its owner, not queued and not stealable
    expect(await a.taskState(join.id)).toMatchObject({ state: 'waiting' })
    expect(a.status().waiting).toBe(3)

    const records = await waitAll(
      c,
      handles.map((h) => h.id),
    )
    const [joinR, leftR, rightR, rootR] = records
    for (const r of records) expect(r.status, r.taskId).toBe('succeeded')
    const rootOut = { input: 'root', deps: {} }
    expect(rootR.output).toEqual(rootOut)
    expect(leftR.output).toEqual({ input: 'left', deps: { [root.id]: rootOut } })
    expect(rightR.output).toEqual({ input: 'right', deps: { [root.id]: rootOut } })
    expect(joinR.output).toEqual({
      input: 'join',
      deps: { [left.id]: leftR.output, [right.id]: rightR.output },
    })

    // the middle tasks were stolen (granted by A, run by B or C, which fetched root's output)
    for (const [h, r] of [
      [left, leftR],
      [right, rightR],
    ] as const) {
      expect([b.peerId, c.peerId]).toContain(r.executor)
      expect(a.story(h.id).map((e) => e.event)).toContain('granted')
      expect(a.story(h.id).map((e) => e.event)).toContain('waiting-on-deps')
    }
    // every task started after its dependencies finished
    expect(leftR.startedAt).toBeGreaterThanOrEqual(rootR.finishedAt)
    expect(joinR.startedAt).toBeGreaterThanOrEqual(Math.max(leftR.finishedAt, rightR.finishedAt))
    await blocker.result(deadline())
  })

  it('fails the dependents of a failing task with its reason, signed by the owner', async () => {
    const [bad, mid, last] = await a.submitMany([
      { key: 'bad', type: 'fail', input: { message: 'boom', unrecoverable: true } },
      { key: 'mid', type: 'collect', dependsOn: ['bad'] },
      { key: 'last', type: 'collect', dependsOn: ['mid'] },
    ])
    const [badR, midR, lastR] = await waitAll(b, [bad.id, mid.id, last.id])
    expect(badR.status).toBe('failed')
    expect(badR.error).toContain('boom')
    expect(midR).toMatchObject({ status: 'failed', executor: a.peerId, owner: a.peerId, attempts: [] })
    expect(midR.error).toBe(`dependency ${bad.id} failed: ${badR.error}`)
    expect(lastR.status).toBe('failed')
    expect(lastR.error).toBe(`dependency ${mid.id} failed: ${midR.error}`)
    // a dependency on an existing (here: failed) task id fails at once
    const [late] = await a.submitMany([{ type: 'collect', dependsOn: [bad.id] }])
    const lateR = await late.result(deadline())
    expect(lateR.error).toBe(`dependency ${bad.id} failed: ${badR.error}`)
    expect(a.story(mid.id).map((e) => e.event)).toEqual(
      expect.arrayContaining(['accepted', 'waiting-on-deps', 'dependency-failed', 'finished']),
    )
  })

  it('refuses a cycle naming its keys, and queues nothing of the submission', async () => {
    const before = a.status()
    const submit = a.submitMany([
      { key: 'ok', type: 'collect' },
      { key: 'p', type: 'collect', dependsOn: ['ok', 'q'] },
      { key: 'q', type: 'collect', dependsOn: ['p'] },
    ])
    await expect(submit).rejects.toThrow(InvalidTaskError)
    await expect(submit).rejects.toThrow(/dependency cycle: (p → q → p|q → p → q)/)
    const after = a.status()
    expect(after.queued).toBe(before.queued)
    expect(after.waiting).toBe(before.waiting)
    expect(after.counters.accepted).toBe(before.counters.accepted)
    // and a reference to nothing known is refused naming the item and field
    await expect(
      a.submitMany([{ type: 'collect' }, { type: 'collect', dependsOn: ['ghost'] }]),
    ).rejects.toThrow(
      'tasks[1].dependsOn[0]: "ghost" is neither a key in this submission nor a known task id',
    )
  })
})

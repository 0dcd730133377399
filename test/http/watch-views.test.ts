import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpApi } from '../../src/http/http-api.ts'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import type { MeshView } from '../../src/node/watch/mesh-view.ts'
import type { TaskListPage } from '../../src/node/watch/task-list.ts'
import { startLocalMesh, waitForMesh } from '../../src/simulation/mesh.ts'
import { deadline, stopAll } from '../integration/helpers.ts'

/** Three real nodes over TCP on loopback; the first serves the HTTP API. */
let nodes: TaskmeshNode[] = []
let api: HttpApi
let base: string

beforeAll(async () => {
  nodes = await startLocalMesh({ nodes: 3, slots: 1 })
  await waitForMesh(nodes)
  api = new HttpApi(nodes[0])
  base = await api.listen(0)
})

afterAll(async () => {
  await api?.close()
  await stopAll(nodes)
})

async function get<T>(path: string): Promise<T> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${api.token}` } })
  expect(res.status).toBe(200)
  return (await res.json()) as T
}

describe('GET /mesh', () => {
  it('lists this node first, then every node it hears of, with capacity and load', async () => {
    const view = await get<MeshView>('/mesh')
    expect(view.self).toBe(nodes[0].peerId)
    expect(view.nodes.map((n) => n.peerId).sort()).toEqual(nodes.map((n) => n.peerId).sort())
    expect(view.nodes[0]).toMatchObject({ peerId: nodes[0].peerId, heard: 'self', slots: 1, ageMs: 0 })
    for (const n of view.nodes.slice(1)) {
      expect(n).toMatchObject({ heard: 'neighbour', slots: 1 })
      expect(n.types).toContain('sleep')
      expect(n.ageMs).toBeGreaterThanOrEqual(0)
    }
  })
})

describe('GET /tasks', () => {
  it('lists the tasks this node owns by state, a page at a time, and the ones that ended', async () => {
    const [a] = nodes
    const handles = await a.submitMany([
      { type: 'sleep', input: { ms: 1_500 } },
      ...Array.from({ length: 5 }, (_, i) => ({ type: 'sleep', input: { ms: 1_500, output: i } })),
      { type: 'fail', input: { message: 'listed' }, maxAttempts: 1 },
    ])
    const open = await get<TaskListPage>('/tasks?state=queued,running,leased')
    expect(open.tasks.length).toBeGreaterThan(0)
    for (const t of open.tasks) expect(['queued', 'running', 'leased']).toContain(t.state)

    // pages of 2 cover every owned task once, in acceptance order
    const ids: string[] = []
    let page = await get<TaskListPage>('/tasks?limit=2')
    ids.push(...page.tasks.map((t) => t.taskId))
    while (page.next !== undefined) {
      expect(page.tasks).toHaveLength(2)
      page = await get<TaskListPage>(`/tasks?limit=2&after=${page.next}`)
      ids.push(...page.tasks.map((t) => t.taskId))
    }
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids).toEqual(expect.arrayContaining(handles.map((h) => h.id)))

    await Promise.all(handles.map((h) => h.result(deadline()).catch(() => undefined)))
    const failed = await get<TaskListPage>('/tasks?state=failed')
    const listed = failed.tasks.find((t) => t.taskId === handles[6].id)
    expect(listed).toMatchObject({ type: 'fail', state: 'failed' })
    expect(listed?.reason).toMatch(/listed/)
    const done = await get<TaskListPage>('/tasks?state=succeeded&limit=1000')
    const succeeded = new Set(done.tasks.map((t) => t.taskId))
    for (const h of handles.slice(0, 6)) expect(succeeded.has(h.id)).toBe(true)
  })
})

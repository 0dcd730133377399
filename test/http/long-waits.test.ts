import { afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../../scripts/chaos/daemons.ts'
import { HttpApi } from '../../src/http/http-api.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'

describe('HttpApi while its daemon stops', () => {
  let node: TaskmeshNode | undefined
  afterEach(async () => {
    await node?.stop()
  })

  it('answers every open wait with 503 ERR_STOPPING before it cuts the connections, and refuses new work', async () => {
    node = await TaskmeshNode.create({ slots: 1 })
    const api = new HttpApi(node, { pollMs: 500 })
    const base = await api.listen(0)
    const headers = { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' }
    const [id] = (await node.submitMany([{ type: 'sleep', input: { ms: 60_000 } }])).map((h) => h.id)
    const waits = Array.from({ length: 100 }, () =>
      fetch(`${base}/tasks/${id}?wait=60000`, { headers }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { code: string; taskId: string },
      })),
    )
    await eventually(() => (api.openWaits === 100 ? true : undefined), 5_000, '100 waits open')
    api.beginStop()
    const refused = await fetch(`${base}/tasks`, { method: 'POST', headers, body: '{"type":"echo"}' })
    expect(refused.status).toBe(503)
    expect(await refused.json()).toMatchObject({ code: 'ERR_STOPPING' })
    expect(node.status().counters.accepted).toBe(1)
    expect(api.openWaits).toBe(100) // still waiting: the runs drain

    const closedAt = Date.now()
    await api.close()
    expect(Date.now() - closedAt).toBeLessThan(1_000)
    const answers = await Promise.all(waits)
    expect(answers.every((a) => a.status === 503)).toBe(true)
    expect(answers.every((a) => a.body.code === 'ERR_STOPPING' && a.body.taskId === id)).toBe(true)
    await expect(fetch(`${base}/status`, { headers })).rejects.toThrow(/fetch failed/)
  })
})

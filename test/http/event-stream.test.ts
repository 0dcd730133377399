import { request } from 'node:http'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpApi } from '../../src/http/http-api.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { waitFor } from '../integration/helpers.ts'
import { openSse } from './sse-reader.ts'

let node: TaskmeshNode
let api: HttpApi
let base: string

beforeAll(async () => {
  node = await TaskmeshNode.create({ slots: 2 })
  api = new HttpApi(node, { pollMs: 300 })
  base = await api.listen(0)
})

afterAll(async () => {
  await api?.close()
  await node?.stop()
})

async function get(path: string) {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${api.token}` } })
  return { status: res.status, body: (await res.json()) as { error: string; code: string; field?: string } }
}

/** Opens a stream, waits for its first bytes, and hangs up. */
function connectAndDrop(): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const req = request(`${base}/events`, { headers: { authorization: `Bearer ${api.token}` } })
    req.on('error', reject)
    req.on('response', (res) => {
      res.once('data', () => {
        req.destroy()
        resolve()
      })
    })
    req.end()
  })
}

describe('GET /events', () => {
  it("streams a task's state changes and its result, filtered by id", async () => {
    // the task waits for a dependency, so the stream opens before it is queued
    const [dep, task] = await node.submitMany([
      { key: 'dep', type: 'sleep', input: { ms: 1_000 } },
      { type: 'echo', input: 'after dep', dependsOn: ['dep'] },
    ])
    const stream = await openSse(`${base}/events?ids=${task.id}`, api.token)
    expect(stream.status).toBe(200)
    expect(await node.taskState(task.id)).toMatchObject({ state: 'waiting' })
    const [other] = await node.submitMany([{ type: 'echo', input: 'not watched' }])
    const seen = [await stream.next()]
    while (seen[seen.length - 1].event !== 'finished') seen.push(await stream.next())
    expect(seen.map((e) => e.taskId)).toEqual(seen.map(() => task.id))
    expect(seen.map((e) => e.event)).toEqual(['queued', 'started', 'finished'])
    expect(seen.map((e) => e.state)).toEqual(['queued', 'running', 'succeeded'])
    expect(seen[2].detail).toMatchObject({ status: 'succeeded' })
    await Promise.all([dep.result(AbortSignal.timeout(5_000)), other.result(AbortSignal.timeout(5_000))])
    stream.close()
  })

  it('streams open at once share one listener, each sent every event it passes, in order', async () => {
    // the streams of the tests before are gone first: theirs is the listener these would share
    await waitFor(
      () => api.openEventStreams === 0,
      5_000,
      () => `${api.openEventStreams} streams open`,
    )
    const baseline = node.taskEventListeners
    const urls = ['', '?event=finished', '?state=succeeded'].map((q) => `${base}/events${q}`)
    const streams = await Promise.all(urls.map((url) => openSse(url, api.token)))
    try {
      expect(node.taskEventListeners).toBe(baseline + 1)
      const handles = await node.submitMany(
        Array.from({ length: 20 }, (_, i) => ({ type: 'echo', input: i })),
      )
      const ids = handles.map((h) => h.id)
      /** The ids of these tasks' `finished` events in the order sent; every event sent is one of `kinds`. */
      const finishedAt = async (stream: (typeof streams)[0], kinds?: Set<string>) => {
        const order: string[] = []
        while (order.length < ids.length) {
          const e = await stream.next()
          if (kinds !== undefined && !kinds.has(e.event)) throw new Error(`unexpected ${e.event}`)
          if (e.event === 'finished' && ids.includes(e.taskId)) order.push(e.taskId)
        }
        return order
      }
      const [everything, finished, succeeded] = await Promise.all([
        finishedAt(streams[0]),
        finishedAt(streams[1], new Set(['finished'])),
        finishedAt(streams[2], new Set(['finished'])),
      ])
      expect(new Set(everything)).toEqual(new Set(ids))
      expect(finished).toEqual(everything)
      expect(succeeded).toEqual(everything)
    } finally {
      for (const stream of streams) stream.close()
    }
    await waitFor(
      () => node.taskEventListeners === baseline,
      5_000,
      () => `${node.taskEventListeners} listeners, ${baseline} before`,
    )
  })

  it('?state=failed sends only the events that end a task as failed', async () => {
    const stream = await openSse(`${base}/events?state=failed`, api.token)
    const [ok, bad] = await node.submitMany([
      { type: 'echo', input: 1 },
      { type: 'fail', input: { message: 'on purpose' }, maxAttempts: 1 },
    ])
    const e = await stream.next()
    expect(e).toMatchObject({ taskId: bad.id, event: 'finished', state: 'failed' })
    expect((e.detail as { error: string }).error).toMatch(/on purpose/)
    await ok.result(AbortSignal.timeout(5_000))
    stream.close()
  })

  it('?event=started,finished sends only those events', async () => {
    const stream = await openSse(`${base}/events?event=started,finished`, api.token)
    const [task] = await node.submitMany([{ type: 'echo', input: 2 }])
    expect(await stream.next()).toMatchObject({ taskId: task.id, event: 'started' })
    expect(await stream.next()).toMatchObject({ taskId: task.id, event: 'finished' })
    stream.close()
  })

  it.each([
    ['/events?id=x', 'id', /unknown query parameter "id": GET \/events takes ids, event, state/],
    ['/events?ids=nope', 'ids', /ids: "nope" is not a task id/],
    ['/events?ids=', 'ids', /ids must be a comma-separated list/],
    ['/events?state=runing', 'state', /"runing" is not a state \(waiting, queued/],
    ['/events?event=exploded', 'event', /"exploded" is not a task event/],
    ['/events?state=running&state=failed', 'state', /given twice/],
    ['/tasks?limit=0', 'limit', /limit must be an integer from 1 to 1000/],
    ['/tasks?after=yesterday', 'after', /after must be the "next" of a page before/],
    ['/tasks?sort=asc', 'sort', /unknown query parameter "sort"/],
    ['/mesh?all=1', 'all', /GET \/mesh takes no parameters/],
  ])('GET %s → 400 naming %s', async (path, field, message) => {
    const res = await get(path)
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('ERR_BAD_REQUEST')
    expect(res.body.field).toBe(field)
    expect(res.body.error).toMatch(message)
  })

  it('refuses another method with 405, and a stream without the token with 401', async () => {
    const post = await fetch(`${base}/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.token}` },
    })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET')
    expect((await fetch(`${base}/events`)).status).toBe(401)
  })

  it('clients that drop while events flow: the node keeps running and keeps no listener', async () => {
    const baseline = node.taskEventListeners
    const handles = await node.submitMany(Array.from({ length: 200 }, (_, i) => ({ type: 'echo', input: i })))
    for (let i = 0; i < 200; i += 20) await Promise.all(Array.from({ length: 20 }, connectAndDrop))
    await Promise.all(handles.map((h) => h.result(AbortSignal.timeout(10_000))))
    await waitFor(
      () => api.openEventStreams === 0,
      5_000,
      () => `${api.openEventStreams} streams open`,
    )
    expect(node.taskEventListeners).toBe(baseline)
  })

  it('a client that connects and drops 1,000 times leaves no listener, no stream and flat memory', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const baseline = node.taskEventListeners
    const cycles = async (n: number) => {
      for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: 50 }, connectAndDrop))
      await waitFor(
        () => api.openEventStreams === 0,
        5_000,
        () => `${api.openEventStreams} streams open`,
      )
    }
    await cycles(100) // warm up
    gc()
    const before = process.memoryUsage().heapUsed
    await cycles(1_000)
    await waitFor(
      () => node.taskEventListeners === baseline,
      5_000,
      () => `${node.taskEventListeners} listeners, ${baseline} before`,
    )
    gc()
    const grown = process.memoryUsage().heapUsed - before
    expect(grown).toBeLessThan(8 * 1024 * 1024)
    // the stream still works after all that
    const stream = await openSse(`${base}/events?event=finished`, api.token)
    const [task] = await node.submitMany([{ type: 'echo', input: 'after' }])
    expect(await stream.next()).toMatchObject({ taskId: task.id, event: 'finished' })
    stream.close()
  })
})

import { describe, expect, it } from 'vitest'
import { HttpClient } from '../../src/client/http-client.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { useApi } from './http-api-fixture.ts'

const t = useApi(300)
const { call, expectNothingQueued, accepted } = t

/** `POST /tasks?wait=<wait>` with `body` as JSON. */
const postWaiting = (body: unknown, wait: string) => call('POST', `/tasks?wait=${wait}`, JSON.stringify(body))

interface Waited {
  ids: string[]
  keys?: Record<string, string>
  results: Array<ResultRecord | null>
}

describe('POST /tasks?wait= (submit and wait in one request)', () => {
  it('answers each task result beside its id, in submission order', async () => {
    const res = await postWaiting(
      {
        tasks: [
          { type: 'echo', input: 1 },
          { type: 'sleep', input: { ms: 30, output: 'slept' } },
          { type: 'echo', input: 3 },
        ],
      },
      '5000',
    )
    expect(res.status).toBe(201)
    const { ids, results } = res.body as Waited
    expect(ids).toHaveLength(3)
    expect(results.map((r) => r?.taskId)).toEqual(ids)
    expect(results.map((r) => r?.status)).toEqual(['succeeded', 'succeeded', 'succeeded'])
    expect(results.map((r) => r?.output)).toEqual([1, 'slept', 3])
  })

  it('answers the keys of a graph and the results of its tasks, dependencies first or not', async () => {
    const res = await postWaiting(
      {
        tasks: [
          { key: 'late', type: 'echo', input: 'after', dependsOn: ['early'] },
          { key: 'early', type: 'sleep', input: { ms: 20, output: 'before' } },
        ],
      },
      '5000',
    )
    expect(res.status).toBe(201)
    const { ids, keys, results } = res.body as Waited
    expect(keys).toEqual({ late: ids[0], early: ids[1] })
    expect(results.map((r) => r?.output)).toEqual(['after', 'before'])
  })

  it('answers null for a task without a result when the wait ends; the task stays accepted', async () => {
    const asked = performance.now()
    const res = await postWaiting({ type: 'sleep', input: { ms: 60_000 } }, '100')
    expect(res.status).toBe(201)
    expect(performance.now() - asked).toBeLessThan(5_000)
    const { ids, results } = res.body as Waited
    expect(results).toEqual([null])
    const state = await call('GET', `/tasks/${ids[0]}/state`)
    expect((state.body as { state: string }).state).toBe('running')
    expect((await call('DELETE', `/tasks/${ids[0]}`)).status).toBe(200)
  })

  it('a client that hangs up ends its long poll: nobody waits for the result any more', async () => {
    const { ids } = (await t.post({ type: 'sleep', input: { ms: 60_000 } })).body as { ids: string[] }
    const [id] = ids
    const { results } = (t.node as unknown as { parts: { results: { isAwaited(id: string): boolean } } })
      .parts
    const hangUp = new AbortController()
    const poll = fetch(`${t.base}/tasks/${id}?wait=60000`, {
      headers: { authorization: `Bearer ${t.api.token}` },
      signal: hangUp.signal,
    }).catch((err: Error) => err.name)
    await expect.poll(() => results.isAwaited(id)).toBe(true)
    hangUp.abort()
    expect(await poll).toBe('AbortError')
    await expect.poll(() => results.isAwaited(id)).toBe(false)
    expect((await call('DELETE', `/tasks/${id}`)).status).toBe(200)
  })

  it('refuses a malformed wait with 400 naming it, before anything is queued', async () => {
    const before = accepted()
    for (const wait of ['soon', '-1', '1.5']) {
      const res = await postWaiting({ type: 'echo', input: wait }, wait)
      expect(res.status).toBe(400)
      expect((res.body as { field?: string }).field).toBe('wait')
    }
    await expectNothingQueued(before)
  })

  it('HttpClient.submitAndWait gives the ids and results of one request', async () => {
    const client = new HttpClient(t.base, { token: t.api.token })
    const { ids, results } = await client.submitAndWait([{ type: 'echo', input: 'x' }], 5_000)
    expect(ids).toHaveLength(1)
    expect(results[0]?.taskId).toBe(ids[0])
    expect(results[0]?.output).toBe('x')
  })
})

import { describe, expect, it, vi } from 'vitest'
import { MAX_HTTP_BODY_BYTES } from '../../src/http/http-api.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { isTaskId, taskId } from '../../src/task/task-id.ts'
import { waitFor } from '../integration/helpers.ts'
import { useApi } from './http-api-fixture.ts'

/** Deadline of a poll without ?wait (this lone node has no DHT peers, so a lookup finds nothing). */
const POLL_MS = 300

interface ErrorBody {
  error: string
  code: string
  field?: string
}

const t = useApi(POLL_MS)
const unknownId = taskId(parseTaskSpec({ type: 'echo' }), 'nobody', 'never-submitted')
const { call, post, expectNothingQueued, accepted } = t

describe('POST /tasks', () => {
  it('accepts one spec with 201 and its id, and the result can be long-polled', async () => {
    const res = await post({ type: 'echo', input: { hello: 'http' } })
    expect(res.status).toBe(201)
    const { ids } = res.body as { ids: string[] }
    expect(ids).toHaveLength(1)
    expect(isTaskId(ids[0])).toBe(true)

    const got = await call('GET', `/tasks/${ids[0]}?wait=5000`)
    expect(got.status).toBe(200)
    const record = got.body as ResultRecord
    expect(record.taskId).toBe(ids[0])
    expect(record.status).toBe('succeeded')
    expect(record.output).toEqual({ hello: 'http' })
    expect(record.executor).toBe(t.node.peerId)
  })

  it('accepts { tasks: [...] } with 201 and one id per task, in order', async () => {
    const res = await post({
      tasks: [
        { type: 'echo', input: 1 },
        { type: 'sleep', input: { ms: 20, output: 'slept' } },
        { type: 'echo', input: 3 },
      ],
    })
    expect(res.status).toBe(201)
    const { ids } = res.body as { ids: string[] }
    expect(ids).toHaveLength(3)
    expect(new Set(ids).size).toBe(3)
    const outputs = await Promise.all(
      ids.map(async (id) => ((await call('GET', `/tasks/${id}?wait=5000`)).body as ResultRecord).output),
    )
    expect(outputs).toEqual([1, 'slept', 3])
  })

  it('refuses a body that is not JSON with 400 and says so; nothing is queued', async () => {
    const before = accepted()
    const res = await post('{"type": "echo", ')
    expect(res.status).toBe(400)
    const body = res.body as ErrorBody
    expect(body.code).toBe('ERR_BAD_REQUEST')
    expect(body.field).toBe('body')
    expect(body.error).toMatch(/^body is not valid JSON: /)
    await expectNothingQueued(before)
  })

  it('refuses an empty body with 400', async () => {
    const res = await call('POST', '/tasks')
    expect(res.status).toBe(400)
    expect((res.body as ErrorBody).error).toMatch(/body is empty/)
  })

  it('refuses an invalid spec with 400 naming the field; nothing is queued', async () => {
    const before = accepted()
    const res = await post({ type: 'echo', timeoutMs: 0 })
    expect(res.status).toBe(400)
    const body = res.body as ErrorBody
    expect(body.code).toBe('ERR_INVALID_TASK')
    expect(body.field).toBe('task.timeoutMs')
    expect(body.error).toMatch(/^task\.timeoutMs: /)
    await expectNothingQueued(before)
  })

  it('refuses a whole batch when one spec is invalid, naming its index; nothing is queued', async () => {
    const before = accepted()
    const res = await post({ tasks: [{ type: 'echo' }, { type: 'echo', priority: 'high' }] })
    expect(res.status).toBe(400)
    const body = res.body as ErrorBody
    expect(body.code).toBe('ERR_INVALID_TASK')
    expect(body.field).toBe('tasks[1].priority')
    await expectNothingQueued(before)
  })

  it('refuses an unknown handler type with 400 ERR_UNKNOWN_HANDLER; nothing is queued', async () => {
    const before = accepted()
    const res = await post({ type: 'no-such-handler' })
    expect(res.status).toBe(400)
    const body = res.body as ErrorBody
    expect(body.code).toBe('ERR_UNKNOWN_HANDLER')
    expect(body.field).toBe('task.type')
    expect(body.error).toContain(
      '"no-such-handler" (handler types in reach: echo, fail, noop, sha256, sleep)',
    )
    await expectNothingQueued(before)
  })

  it('names a list of one `tasks[0]`, and refuses a bare JSON array saying how to send a list; nothing is queued', async () => {
    const before = accepted()
    const one = await post({ tasks: [{ type: 'echo', timeoutMs: 0 }] })
    expect(one.status).toBe(400)
    expect(one.body).toMatchObject({ code: 'ERR_INVALID_TASK', field: 'tasks[0].timeoutMs' })
    expect((one.body as ErrorBody).error).toMatch(/^tasks\[0\]\.timeoutMs: /)
    const bare = await post([{ type: 'echo' }])
    expect(bare.status).toBe(400)
    expect(bare.body).toMatchObject({
      code: 'ERR_BAD_REQUEST',
      field: 'body',
      error: 'a JSON array: send a list of tasks as {"tasks": [...]}',
    })
    await expectNothingQueued(before)
  })

  it('refuses "tasks" that is not an array, and an empty list', async () => {
    const notArray = await post({ tasks: { type: 'echo' } })
    expect(notArray.status).toBe(400)
    expect((notArray.body as ErrorBody).field).toBe('tasks')
    const empty = await post({ tasks: [] })
    expect(empty.status).toBe(400)
    expect((empty.body as ErrorBody).code).toBe('ERR_INVALID_TASK')
    expect((empty.body as ErrorBody).field).toBe('tasks')
  })

  it('refuses a batch with a key besides "tasks", and an unknown or repeated query parameter; nothing is queued', async () => {
    const before = accepted()
    const extra = await post({ tasks: [{ type: 'echo' }], extra: 1 })
    expect(extra.status).toBe(400)
    expect(extra.body).toMatchObject({
      field: 'extra',
      error: 'unknown key "extra": a batch takes only "tasks"',
    })
    // a typo of ?wait= would not wait: refused, naming it and what the route takes
    const typo = await call('POST', '/tasks?wiat=5000', JSON.stringify({ type: 'echo' }))
    expect(typo.status).toBe(400)
    expect(typo.body).toMatchObject({
      field: 'wiat',
      error: 'unknown query parameter "wiat": POST /tasks takes wait',
    })
    await expectNothingQueued(before)
    const twice = await call('GET', `/tasks/${unknownId}?wait=1&wait=2`)
    expect(twice.status).toBe(400)
    expect(twice.body).toMatchObject({ field: 'wait', error: 'query parameter "wait" is given twice' })
    const onCancel = await call('DELETE', `/tasks/${unknownId}?force=1`)
    expect(onCancel.status).toBe(400)
    expect((onCancel.body as ErrorBody).error).toBe(
      'unknown query parameter "force": DELETE /tasks/<id> takes no parameters',
    )
  })

  it("refuses an input the handler finds wrong, naming the task's input; nothing is queued", async () => {
    const before = accepted()
    const sleep = await post({ type: 'sleep', input: { ms: -5 } })
    expect(sleep.status).toBe(400)
    expect(sleep.body).toMatchObject({ code: 'ERR_INVALID_TASK', field: 'task.input' })
    expect((sleep.body as ErrorBody).error).toContain('sleep: input must be { ms: number in [0, 86400000] }')
    const batch = await post({ tasks: [{ type: 'echo' }, { type: 'sha256', input: { nope: 1 } }] })
    expect(batch.status).toBe(400)
    expect(batch.body).toMatchObject({ code: 'ERR_INVALID_TASK', field: 'tasks[1].input' })
    await expectNothingQueued(before)
  })

  it('refuses a body over the size limit with 413', async () => {
    const res = await post(JSON.stringify({ type: 'echo', input: 'x'.repeat(MAX_HTTP_BODY_BYTES) }))
    expect(res.status).toBe(413)
    expect((res.body as ErrorBody).error).toContain(`${MAX_HTTP_BODY_BYTES} bytes`)
  })
})

describe('GET /tasks/<id>', () => {
  it('long-polls until a result that lands after the request', async () => {
    // a task that never ends by itself: its result lands when the test cancels it, while the poll waits
    const { ids } = (await post({ type: 'sleep', input: { ms: 60_000, output: 'late' } })).body as {
      ids: string[]
    }
    const waits = vi.spyOn(t.node, 'waitResult')
    try {
      const asked = Date.now()
      let answered = false
      const polling = call('GET', `/tasks/${ids[0]}?wait=5000`).finally(() => {
        answered = true
      })
      await waitFor(() => waits.mock.calls.some(([id]) => id === ids[0]), 5_000, 'the GET never waited')
      expect(answered).toBe(false)
      const cancel = await call('DELETE', `/tasks/${ids[0]}`)
      expect(cancel.body).toMatchObject({ taskId: ids[0], outcome: 'cancelled' })
      const got = await polling
      expect(got.status).toBe(200)
      const record = got.body as ResultRecord
      expect(record).toMatchObject({ taskId: ids[0], status: 'failed', error: 'cancelled' })
      expect(record.finishedAt).toBeGreaterThanOrEqual(asked)
    } finally {
      waits.mockRestore()
    }
  })

  it('answers 404 for a task id nobody submitted: a poll within its deadline, and a wait', async () => {
    const started = performance.now()
    const now = await call('GET', `/tasks/${unknownId}`)
    expect(now.status).toBe(404)
    expect(performance.now() - started).toBeLessThan(POLL_MS + 2_000)
    expect((now.body as ErrorBody).code).toBe('ERR_RESULT_NOT_FOUND')
    expect((now.body as ErrorBody).error).toBe(
      `no node in reach knows task ${unknownId}, and no record of it was found`,
    )
    const waited = await call('GET', `/tasks/${unknownId}?wait=100`)
    expect(waited.status).toBe(404)
  })

  it('refuses a malformed id or wait with 400 naming it', async () => {
    const badId = await call('GET', '/tasks/not-a-task-id')
    expect(badId.status).toBe(400)
    expect((badId.body as ErrorBody).field).toBe('id')
    expect((badId.body as ErrorBody).error).toContain('"not-a-task-id" is not a task id')
    const badWait = await call('GET', `/tasks/${unknownId}?wait=soon`)
    expect(badWait.status).toBe(400)
    expect((badWait.body as ErrorBody).field).toBe('wait')
  })
})

describe('other routes', () => {
  it('GET /status answers 200 with the node status', async () => {
    const res = await call('GET', '/status')
    expect(res.status).toBe(200)
    const status = res.body as { peerId: string; slots: number; types: string[]; peers: unknown[] }
    expect(status.peerId).toBe(t.node.peerId)
    expect(status.slots).toBe(2)
    expect(status.types).toEqual(expect.arrayContaining(['echo', 'sleep']))
    expect(status.peers).toEqual([])
  })

  it('answers 405 with Allow for a wrong method and 404 for an unknown route', async () => {
    const wrong = await call('PUT', '/tasks')
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('GET, POST')
    const missing = await call('GET', '/nope')
    expect(missing.status).toBe(404)
    expect((missing.body as ErrorBody).error).toContain('no route GET /nope')
  })
})

import { type IncomingHttpHeaders, request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allowedHost } from '../../src/http/guard.ts'
import { HttpApi, MAX_HTTP_BODY_BYTES } from '../../src/http/http-api.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { isTaskId, taskId } from '../../src/task/task-id.ts'

/** Deadline of a poll without ?wait (this lone node has no DHT peers, so a lookup finds nothing). */
const POLL_MS = 300

let node: TaskmeshNode
let api: HttpApi
let base: string

interface ErrorBody {
  error: string
  code: string
  field?: string
}

async function call(method: string, path: string, body?: string) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${api.token}`,
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
    },
    body,
  })
  expect(res.headers.get('content-type')).toBe('application/json')
  return { status: res.status, headers: res.headers, body: (await res.json()) as unknown }
}

const post = (body: unknown) => call('POST', '/tasks', typeof body === 'string' ? body : JSON.stringify(body))

/** Asserts a refusal changed nothing: no task was accepted or queued. */
async function expectNothingQueued(acceptedBefore: number) {
  const { body } = await call('GET', '/status')
  const status = body as { queued: number; counters: { accepted: number } }
  expect(status.queued).toBe(0)
  expect(status.counters.accepted).toBe(acceptedBefore)
}

const accepted = () => node.status().counters.accepted

beforeAll(async () => {
  node = await TaskmeshNode.create({ slots: 2 })
  api = new HttpApi(node, { pollMs: POLL_MS })
  base = await api.listen(0)
})

afterAll(async () => {
  await api?.close()
  await node?.stop()
})

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
    expect(record.executor).toBe(node.peerId)
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
    expect(body.error).toContain('"no-such-handler"')
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

  it('refuses a body over the size limit with 413', async () => {
    const res = await post(JSON.stringify({ type: 'echo', input: 'x'.repeat(MAX_HTTP_BODY_BYTES) }))
    expect(res.status).toBe(413)
    expect((res.body as ErrorBody).error).toContain(`${MAX_HTTP_BODY_BYTES} bytes`)
  })
})

describe('GET /tasks/<id>', () => {
  const unknownId = taskId(parseTaskSpec({ type: 'echo' }), 'nobody', 'never-submitted')

  it('long-polls until a result that lands after the request', async () => {
    const { ids } = (await post({ type: 'sleep', input: { ms: 200, output: 'late' } })).body as {
      ids: string[]
    }
    const asked = Date.now()
    const got = await call('GET', `/tasks/${ids[0]}?wait=5000`)
    expect(got.status).toBe(200)
    const record = got.body as ResultRecord
    expect(record.output).toBe('late')
    expect(record.finishedAt).toBeGreaterThanOrEqual(asked)
  })

  it('answers 404 for a task id nobody submitted: a poll within its deadline, and a wait', async () => {
    const started = performance.now()
    const now = await call('GET', `/tasks/${unknownId}`)
    expect(now.status).toBe(404)
    expect(performance.now() - started).toBeLessThan(POLL_MS + 2_000)
    expect((now.body as ErrorBody).code).toBe('ERR_RESULT_NOT_FOUND')
    expect((now.body as ErrorBody).error).toContain(unknownId)
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
    expect(status.peerId).toBe(node.peerId)
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

/** One raw HTTP request to the API, every header as given (fetch would set Host and Origin itself). */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Record<string, unknown> }> {
  const { port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d: string) => {
        text += d
      })
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }),
      )
    })
    req.once('error', reject)
    req.end(body)
  })
}

describe('only its operator: token, loopback Host, no cross-site requests, JSON bodies', () => {
  const port = () => new URL(base).port
  const host = () => `127.0.0.1:${port()}`
  const bearer = () => `Bearer ${api.token}`
  /** The headers of a request the API accepts. */
  const operator = () => ({ host: host(), authorization: bearer(), 'content-type': 'application/json' })
  const spec = JSON.stringify({ type: 'echo', input: 'csrf' })

  /** Asserts a refusal: its status, code and field, a JSON body, and nothing queued. */
  async function refused(
    res: Awaited<ReturnType<typeof raw>>,
    status: number,
    code: string,
    field: string,
    before: number,
  ) {
    expect(res.status).toBe(status)
    expect(res.headers['content-type']).toBe('application/json')
    expect(res.body).toMatchObject({ code, field, error: expect.any(String) })
    await expectNothingQueued(before)
  }

  it('serves its operator: the token, a loopback Host with the port, same-origin, JSON', async () => {
    for (const name of ['127.0.0.1', 'localhost', '[::1]']) {
      expect((await raw('GET', '/status', { ...operator(), host: `${name}:${port()}` })).status).toBe(200)
    }
    const origin = { origin: `http://${host()}`, 'sec-fetch-site': 'same-origin' }
    const created = await raw('POST', '/tasks', { ...operator(), ...origin }, spec)
    expect(created.status).toBe(201)
    const charset = { ...operator(), 'content-type': 'application/json; charset=utf-8' }
    expect((await raw('POST', '/tasks', charset, spec)).status).toBe(201)
  })

  it('refuses a request without the token, or with a wrong one: 401, nothing queued', async () => {
    const before = accepted()
    const none = await raw('POST', '/tasks', { ...operator(), authorization: '' }, spec)
    await refused(none, 401, 'ERR_UNAUTHORIZED', 'authorization', before)
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/)
    expect(none.body.error).toContain('api.json')
    const { authorization: _, ...withoutToken } = operator()
    await refused(
      await raw('POST', '/tasks', withoutToken, spec),
      401,
      'ERR_UNAUTHORIZED',
      'authorization',
      before,
    )
    const wrong = { ...operator(), authorization: `Bearer ${'x'.repeat(api.token.length)}` }
    await refused(await raw('POST', '/tasks', wrong, spec), 401, 'ERR_UNAUTHORIZED', 'authorization', before)
    expect((await raw('GET', '/status', { host: host() })).status).toBe(401)
  })

  it('refuses a Host that is not a loopback name with its port (DNS rebinding): 403', async () => {
    const before = accepted()
    for (const h of ['evil.example', `evil.example:${port()}`, '127.0.0.1:1', `10.0.0.1:${port()}`, '']) {
      const res = await raw('POST', '/tasks', { ...operator(), host: h }, spec)
      await refused(res, 403, 'ERR_HOST_NOT_ALLOWED', 'host', before)
    }
    expect((await raw('GET', '/status', { ...operator(), host: 'evil.example' })).status).toBe(403)
  })

  it('refuses a cross-site request (a web page the operator visits): 403, even with text/plain', async () => {
    const before = accepted()
    const page = { origin: 'http://evil.example', 'content-type': 'text/plain' }
    await refused(
      await raw('POST', '/tasks', { ...operator(), ...page }, spec),
      403,
      'ERR_CROSS_ORIGIN',
      'origin',
      before,
    )
    const otherPort = { origin: 'http://127.0.0.1:1' }
    await refused(
      await raw('POST', '/tasks', { ...operator(), ...otherPort }, spec),
      403,
      'ERR_CROSS_ORIGIN',
      'origin',
      before,
    )
    const opaque = { origin: 'null' }
    await refused(
      await raw('POST', '/tasks', { ...operator(), ...opaque }, spec),
      403,
      'ERR_CROSS_ORIGIN',
      'origin',
      before,
    )
    for (const site of ['cross-site', 'same-site']) {
      const res = await raw('DELETE', `/tasks/${taskId(parseTaskSpec({ type: 'echo' }), 'x', site)}`, {
        ...operator(),
        'sec-fetch-site': site,
      })
      await refused(res, 403, 'ERR_CROSS_ORIGIN', 'origin', before)
    }
  })

  it('refuses a body that is not declared application/json: 415, nothing queued', async () => {
    const before = accepted()
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const res = await raw('POST', '/tasks', { ...operator(), 'content-type': type }, spec)
      await refused(res, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE', 'content-type', before)
    }
    const { 'content-type': _, ...untyped } = operator()
    await refused(
      await raw('POST', '/tasks', untyped, spec),
      415,
      'ERR_UNSUPPORTED_MEDIA_TYPE',
      'content-type',
      before,
    )
  })

  it('a browser gets the token once through the URL, then in an HttpOnly SameSite=Strict cookie', async () => {
    const link = await raw('GET', `/?token=${api.token}&view=tasks`, { host: host() })
    expect(link.status).toBe(303)
    expect(link.headers.location).toBe('/?view=tasks')
    const [cookie] = link.headers['set-cookie'] ?? []
    expect(cookie).toMatch(new RegExp(`^taskmesh-token-${port()}=${api.token};`))
    expect(cookie).toContain('HttpOnly')
    expect(cookie).toContain('SameSite=Strict')
    expect(cookie).toContain('Path=/')
    const jar = cookie.split(';')[0]
    expect((await raw('GET', '/status', { host: host(), cookie: `a=b; ${jar}` })).status).toBe(200)
    expect(
      (await raw('GET', '/status', { host: host(), cookie: `taskmesh-token-1=${api.token}` })).status,
    ).toBe(401)
    const wrong = await raw('GET', '/?token=nope', { host: host() })
    expect(wrong.status).toBe(401)
    expect(wrong.headers['set-cookie']).toBeUndefined()
    // the link from another site is refused like any cross-site request
    const fromPage = await raw('GET', `/?token=${api.token}`, {
      host: host(),
      'sec-fetch-site': 'cross-site',
    })
    expect(fromPage.status).toBe(403)
  })
})

describe('allowedHost', () => {
  it.each([
    ['127.0.0.1:8080', '127.0.0.1', true],
    ['localhost:8080', '127.0.0.1', true],
    ['[::1]:8080', '127.0.0.1', true],
    ['LOCALHOST:8080', '127.0.0.1', true],
    ['127.0.0.1:8081', '127.0.0.1', false],
    ['127.0.0.1', '127.0.0.1', false],
    ['evil.example:8080', '127.0.0.1', false],
    ['127.0.0.1:8080/x', '127.0.0.1', false],
    ['user@127.0.0.1:8080', '127.0.0.1', false],
    ['0.0.0.0:8080', '0.0.0.0', false],
    ['192.168.1.5:8080', '0.0.0.0', false],
    ['192.168.1.5:8080', '192.168.1.5', true],
    ['[fe80::1]:8080', 'fe80::1', true],
  ])('Host %j with the API bound to %s: %s', (hostHeader, bindHost, ok) => {
    expect(allowedHost(hostHeader, { port: 8080, bindHost })).toBe(ok)
  })
})

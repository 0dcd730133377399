import { type IncomingHttpHeaders, request } from 'node:http'
import { describe, expect, it } from 'vitest'
import { allowedHost } from '../../src/http/guard.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { taskId } from '../../src/task/task-id.ts'
import { useApi } from './http-api-fixture.ts'

/**
 * The local HTTP API answers its operator only: the token, a loopback Host, no cross-site
 * requests, JSON bodies (the routes themselves: http-api.test.ts).
 */
const t = useApi(300)
const { expectNothingQueued, accepted } = t

/** One raw HTTP request to the API, every header as given (fetch would set Host and Origin itself). */
function raw(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Record<string, unknown> }> {
  const { port } = new URL(t.base)
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
  const port = () => new URL(t.base).port
  const host = () => `127.0.0.1:${port()}`
  const bearer = () => `Bearer ${t.api.token}`
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
    const wrong = { ...operator(), authorization: `Bearer ${'x'.repeat(t.api.token.length)}` }
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
    // a page elsewhere (even sending text/plain), a page on another port, an opaque origin
    const pages = [
      { origin: 'http://evil.example', 'content-type': 'text/plain' },
      { origin: 'http://127.0.0.1:1' },
      { origin: 'null' },
    ]
    for (const page of pages) {
      const res = await raw('POST', '/tasks', { ...operator(), ...page }, spec)
      await refused(res, 403, 'ERR_CROSS_ORIGIN', 'origin', before)
    }
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

  it('the one-time link hands the token over in the fragment, sets no cookie and removes old ones', async () => {
    const link = await raw('GET', `/?token=${t.api.token}&view=tasks`, { host: host() })
    expect(link.status).toBe(303)
    expect(link.headers.location).toBe(`/?view=tasks#token=${t.api.token}`)
    expect(link.headers['cache-control']).toBe('no-store')
    // this port's cookie of an older version is removed even when not sent; another port's as sent
    expect(link.headers['set-cookie']).toEqual([
      `taskmesh-token-${port()}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict`,
    ])
    const withOld = await raw('GET', `/?token=${t.api.token}`, {
      host: host(),
      cookie: `a=b; taskmesh-token-8888=${t.api.token}`,
    })
    expect(withOld.headers['set-cookie']).toEqual([
      `taskmesh-token-${port()}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict`,
      'taskmesh-token-8888=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict',
    ])
    // a cookie is no token, of this port or any other; it is removed wherever it is sent
    const cookie = `taskmesh-token-${port()}=${t.api.token}`
    const byCookie = await raw('GET', '/status', { host: host(), cookie })
    expect(byCookie.status).toBe(401)
    expect(byCookie.headers['set-cookie']).toEqual([
      `taskmesh-token-${port()}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict`,
    ])
    const wrong = await raw('GET', '/?token=nope', { host: host() })
    expect(wrong.status).toBe(401)
    expect(wrong.body).toMatchObject({ code: 'ERR_UNAUTHORIZED', field: 'token' })
    expect(wrong.headers.location).toBeUndefined()
    // the link from another site is refused like any cross-site request
    const fromPage = await raw('GET', `/?token=${t.api.token}`, {
      host: host(),
      'sec-fetch-site': 'cross-site',
    })
    expect(fromPage.status).toBe(403)
  })

  it('a GET may give the token as ?token= (an EventSource sends no headers); nothing else may', async () => {
    const before = accepted()
    const status = await raw('GET', `/status?token=${t.api.token}`, { host: host() })
    expect(status.status).toBe(200)
    expect(status.body).toMatchObject({ peerId: expect.any(String) })
    const wrong = await raw('GET', `/status?token=x${t.api.token}`, { host: host(), authorization: bearer() })
    expect(wrong.status).toBe(401)
    expect(wrong.body).toMatchObject({ code: 'ERR_UNAUTHORIZED', field: 'token' })
    const twice = await raw('GET', `/status?token=${t.api.token}&token=${t.api.token}`, { host: host() })
    expect(twice.status).toBe(401)
    const { authorization: _, ...withoutToken } = operator()
    const post = await raw('POST', `/tasks?token=${t.api.token}`, withoutToken, spec)
    await refused(post, 401, 'ERR_UNAUTHORIZED', 'authorization', before)

    const abort = new AbortController()
    const events = await fetch(`${t.base}/events?token=${t.api.token}&event=finished`, {
      signal: abort.signal,
    })
    expect(events.status).toBe(200)
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/)
    abort.abort()
    expect((await fetch(`${t.base}/events`)).status).toBe(401)
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

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { HttpClient, WATCH_IN_FLIGHT } from '../../src/client/http-client.ts'
import { HttpTransport } from '../../src/client/http-transport.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { taskId } from '../../src/task/task-id.ts'

let server: Server | undefined
let transport: HttpTransport | undefined

afterEach(async () => {
  transport?.close()
  transport = undefined
  const s = server
  server = undefined
  if (s !== undefined) {
    s.closeAllConnections()
    await new Promise((resolve) => s.close(resolve))
  }
})

/** A loopback server answering with `handler`; resolves with its base URL and the sockets it saw. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const sockets = new Set<Socket>()
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => {
      body += chunk
    })
    req.on('end', () => handler(req, res, body))
  })
  server.on('connection', (socket) => sockets.add(socket))
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { base: new URL(`http://127.0.0.1:${port}`), sockets }
}

describe('HttpTransport', () => {
  it('sends method, path, headers and body, and reuses one connection for the next requests', async () => {
    const { base, sockets } = await serve((req, res, body) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ method: req.method, url: req.url, auth: req.headers.authorization, body }))
    })
    transport = new HttpTransport(base)
    const first = await transport.request('POST', '/tasks?wait=5', {
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body: '{"tasks":["é"]}',
    })
    expect(first.status).toBe(200)
    expect(JSON.parse(first.text)).toEqual({
      method: 'POST',
      url: '/tasks?wait=5',
      auth: 'Bearer t',
      body: '{"tasks":["é"]}',
    })
    for (let i = 0; i < 3; i++) expect((await transport.request('GET', `/status/${i}`)).status).toBe(200)
    expect(sockets.size).toBe(1)
  })

  it('sends a request again on a new connection when its kept one was closed before any answer', async () => {
    const served = new Map<Socket, number>()
    const { base, sockets } = await serve((req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1
      served.set(req.socket, n)
      // a server closing a kept connection as the next request arrives on it
      if (n === 2) return void req.socket.destroy()
      res.end(`answer ${n}`)
    })
    transport = new HttpTransport(base)
    expect((await transport.request('GET', '/a')).text).toBe('answer 1')
    expect((await transport.request('GET', '/b')).text).toBe('answer 1') // on a new connection
    expect(sockets.size).toBe(2)
  })

  it('does not send a request twice when its first connection was new', async () => {
    let seen = 0
    const { base } = await serve((req) => {
      seen++
      req.socket.destroy()
    })
    transport = new HttpTransport(base)
    await expect(transport.request('POST', '/tasks', { body: '{}' })).rejects.toMatchObject({
      code: 'ECONNRESET',
    })
    expect(seen).toBe(1)
  })

  it('rejects with the signal’s reason when it aborts, and at once when it aborted before', async () => {
    const { base } = await serve(() => undefined) // never answers
    transport = new HttpTransport(base)
    const controller = new AbortController()
    const pending = transport.request('GET', '/tasks/x?wait=60000', { signal: controller.signal })
    controller.abort(new Error('no longer wanted'))
    await expect(pending).rejects.toThrow('no longer wanted')
    await expect(transport.request('GET', '/y', { signal: controller.signal })).rejects.toThrow(
      'no longer wanted',
    )
  })

  it('fails a request whose connection stays silent past its idle time', async () => {
    const { base } = await serve(() => undefined) // reads the request, never answers
    transport = new HttpTransport(base)
    await expect(transport.request('GET', '/status', { idleMs: 50 })).rejects.toMatchObject({
      code: 'ETIMEDOUT',
      message: `no answer from ${base.host} for 50 ms`,
    })
  })

  it('refuses a URL that is neither http: nor https:', () => {
    expect(() => new HttpTransport(new URL('ftp://127.0.0.1/'))).toThrow(
      "the daemon's API URL must be http: or https:, got ftp:",
    )
  })
})

describe('HttpClient over HttpTransport', () => {
  it('watch keeps several long polls out and yields in the order of the ids, whatever order they end in', async () => {
    const ids = Array.from({ length: 80 }, (_, i) => taskId(parseTaskSpec({ type: 'echo' }), 'me', `n${i}`))
    let out = 0
    let most = 0
    const { base } = await serve((req, res) => {
      out++
      most = Math.max(most, out)
      const id = decodeURIComponent(new URL(req.url ?? '', 'http://x').pathname.split('/')[2])
      // later ids answer sooner: the polls end out of order
      setTimeout(
        () => {
          out--
          res.setHeader('content-type', 'application/json')
          res.end(JSON.stringify({ taskId: id, status: 'succeeded' }))
        },
        (ids.length - ids.indexOf(id)) % 9,
      )
    })
    const client = new HttpClient(base.toString())
    const seen: string[] = []
    for await (const record of client.watch(ids, AbortSignal.timeout(10_000))) seen.push(record.taskId)
    expect(seen).toEqual(ids)
    expect(most).toBeGreaterThan(1)
    expect(most).toBeLessThanOrEqual(WATCH_IN_FLIGHT)
  })

  it('says which daemon it cannot reach and where its URL came from', async () => {
    const { base } = await serve(() => undefined)
    const url = base.toString()
    const s = server as Server
    server = undefined
    await new Promise((resolve) => s.close(resolve)) // nothing listens there now
    const client = new HttpClient(url, { source: '--api' })
    await expect(client.status()).rejects.toThrow(
      `cannot reach the daemon's HTTP API at ${url.replace(/\/$/, '')} (--api): connect ECONNREFUSED`,
    )
  })
})

import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { HttpApi, type HttpConnectionLimits } from '../../src/http/http-api.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { openSse } from './sse-reader.ts'

/**
 * The API's connections are limited (src/http/server-limits.ts): a socket that sends nothing, or
 * trickles its headers, or idles after an answer, is closed; at most so many are open; a long poll
 * and an event stream, silent for longer than any of those limits, are not cut. The limits are
 * shrunk through `HttpApi`'s `connections` option so the tests take a second, not minutes.
 */
let node: TaskmeshNode | undefined
let api: HttpApi | undefined

afterEach(async () => {
  await api?.close()
  await node?.stop()
  api = undefined
  node = undefined
})

async function start(
  connections: HttpConnectionLimits,
): Promise<{ api: HttpApi; base: string; port: number }> {
  node = await TaskmeshNode.create({ slots: 1 })
  api = new HttpApi(node, { pollMs: 300, connections })
  const base = await api.listen(0)
  return { api, base, port: Number(new URL(base).port) }
}

/**
 * A raw TCP connection to the API that sends `request` (nothing when empty) and then
 * `trickle` once every 50 ms (nothing when empty); resolves when the server closed it, with what
 * it answered and how long it stayed open.
 */
function connection(port: number, request = '', trickle = ''): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve) => {
    const at = Date.now()
    let answer = ''
    let drip: NodeJS.Timeout | undefined
    const socket = connect(port, '127.0.0.1', () => {
      if (request !== '') socket.write(request)
      if (trickle !== '') drip = setInterval(() => socket.write(trickle), 50)
    })
    socket.setEncoding('utf8').on('data', (d: string) => {
      answer += d
    })
    socket.on('error', () => undefined) // a reset is a close too
    socket.on('close', () => {
      clearInterval(drip)
      resolve({ answer, ms: Date.now() - at })
    })
  })
}

describe('the HTTP API limits its connections', () => {
  it('closes a connection that sends nothing, and one that trickles its headers (408)', async () => {
    const { port } = await start({ headersTimeoutMs: 300 })
    const [silent, slow] = await Promise.all([
      connection(port),
      connection(port, 'GET /status HTTP/1.1\r\n', 'x-slow: 1\r\n'),
    ])
    // closed at its idle timeout, or answered 408 first when Node's own check of the headers'
    // deadline comes before it: closed either way, no sooner than the deadline
    expect(silent.answer).toMatch(/^$|^HTTP\/1\.1 408 /)
    expect(silent.ms).toBeGreaterThanOrEqual(250)
    expect(slow.answer).toMatch(/^HTTP\/1\.1 408 /)
    expect(slow.ms).toBeGreaterThanOrEqual(250)
  }, 5_000)

  it('closes a kept-alive connection that stays idle after its answer', async () => {
    const { api, port } = await start({ keepAliveTimeoutMs: 100 })
    const request = `GET /status HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer ${api.token}\r\n\r\n`
    const kept = await connection(port, request)
    expect(kept.answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(kept.answer).toMatch(/\r\nconnection: keep-alive\r\n/i)
    expect(kept.ms).toBeLessThan(3_000) // 100 ms and Node's second of grace, not Node's default 5 s
  }, 10_000)

  it('refuses connections beyond its limit without failing, and serves again once one closes', async () => {
    const { api, base, port } = await start({ maxConnections: 2 })
    const headers = { authorization: `Bearer ${api.token}` }
    const [sleeper] = await node!.submitMany([{ type: 'sleep', input: { ms: 60_000 } }])
    const cuts = [new AbortController(), new AbortController()]
    const waits = cuts.map((cut) =>
      fetch(`${base}/tasks/${sleeper.id}?wait=60000`, { headers, signal: cut.signal }).catch(() => 'aborted'),
    )
    await expect.poll(() => api.openWaits).toBe(2)
    const third = await connection(port, `GET /status HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`)
    expect(third.answer).toBe('') // closed as it came, before a byte was read
    cuts[0].abort()
    expect(await waits[0]).toBe('aborted')
    await expect.poll(() => api.openWaits).toBe(1)
    expect((await fetch(`${base}/status`, { headers })).status).toBe(200)
    cuts[1].abort()
    await waits[1]
  })

  it('does not cut a long poll or an event stream that stay silent longer than the limits', async () => {
    const { api, base, port } = await start({ headersTimeoutMs: 200, keepAliveTimeoutMs: 100 })
    const headers = { authorization: `Bearer ${api.token}` }
    const [sleeper] = await node!.submitMany([{ type: 'sleep', input: { ms: 60_000 } }])
    const stream = await openSse(`${base}/events?token=${api.token}&ids=${sleeper.id}&event=finished`, '')
    expect(stream.status).toBe(200)
    const wait = fetch(`${base}/tasks/${sleeper.id}?wait=60000`, { headers })
    await expect.poll(() => api.openWaits).toBe(1)
    // two silent sockets opened after the poll and the stream, closed one after the other: the
    // poll and the stream have been silent longer than the headers timeout twice over
    for (let i = 0; i < 2; i++) expect((await connection(port)).ms).toBeGreaterThanOrEqual(150)
    expect(api.openWaits).toBe(1)
    expect(api.openEventStreams).toBe(1)
    const cancel = await fetch(`${base}/tasks/${sleeper.id}`, { method: 'DELETE', headers })
    expect(cancel.status).toBe(200)
    const answer = await wait
    expect(answer.status).toBe(200)
    expect(await answer.json()).toMatchObject({ taskId: sleeper.id, status: 'failed', error: 'cancelled' })
    expect(await stream.next(5_000)).toMatchObject({ taskId: sleeper.id, event: 'finished' })
    stream.close()
  }, 10_000)
})

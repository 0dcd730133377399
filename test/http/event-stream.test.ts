import { once } from 'node:events'
import { type IncomingMessage, request } from 'node:http'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { EventGap, StreamCut, WatchedEvent } from '../../src/client/event-source.ts'
import type { EventStreamOptions } from '../../src/http/event-stream.ts'
import { HttpApi } from '../../src/http/http-api.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { waitFor } from '../integration/helpers.ts'
import { type EventFixture, eventFixture } from './event-fixture.ts'
import { openSse, type SseStream } from './sse-reader.ts'

let node: TaskmeshNode
let api: HttpApi
let base: string
/** The node's task event listeners before any stream opened (the story log's). */
let quiet: number

beforeAll(async () => {
  node = await TaskmeshNode.create({ slots: 2 })
  api = new HttpApi(node, { pollMs: 300 })
  base = await api.listen(0)
  quiet = node.taskEventListeners
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

  it('streams open at once share one listener, kept after they close, each sent every event it passes, in order', async () => {
    // the streams of the tests before are gone first
    await waitFor(
      () => api.openEventStreams === 0,
      5_000,
      () => `${api.openEventStreams} streams open`,
    )
    const urls = ['', '?event=finished', '?state=succeeded'].map((q) => `${base}/events${q}`)
    const streams = await Promise.all(urls.map((url) => openSse(url, api.token)))
    try {
      expect(node.taskEventListeners).toBe(quiet + 1)
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
      () => api.openEventStreams === 0,
      5_000,
      () => `${api.openEventStreams} streams open`,
    )
    // kept for a stream that reconnects within REPLAY_LINGER_MS
    expect(node.taskEventListeners).toBe(quiet + 1)
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
    ['/events?id=x', 'id', /unknown query parameter "id": GET \/events takes ids, event, state, lastEventId/],
    [
      '/events?lastEventId=42',
      'lastEventId',
      /lastEventId must be an id this stream sent \(<16 hex digits>-<number>\), got "42"/,
    ],
    ['/events?lastEventId=0123456789ABCDEF-1', 'lastEventId', /lastEventId must be an id/],
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

  it('refuses a Last-Event-ID header that is not an id with 400 naming the header', async () => {
    const res = await fetch(`${base}/events`, {
      headers: { authorization: `Bearer ${api.token}`, 'last-event-id': 'yesterday' },
    })
    const body = (await res.json()) as { code: string; field: string; error: string }
    expect(res.status).toBe(400)
    expect(body).toMatchObject({ code: 'ERR_BAD_REQUEST', field: 'last-event-id' })
    expect(body.error).toMatch(/the Last-Event-ID header must be an id this stream sent .*got "yesterday"/)
  })

  it('closing the API ends its streams with event: end saying the daemon is stopping', async () => {
    const own = new HttpApi(node)
    const url = await own.listen(0)
    const stream = await openSse(`${url}/events`, own.token)
    await own.close()
    expect(await stream.message()).toEqual({ kind: 'end', reason: 'the daemon is stopping' })
    await stream.ended()
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

  it('clients that drop while events flow: the node keeps running and one listener, for reconnects', async () => {
    const handles = await node.submitMany(Array.from({ length: 200 }, (_, i) => ({ type: 'echo', input: i })))
    for (let i = 0; i < 200; i += 20) await Promise.all(Array.from({ length: 20 }, connectAndDrop))
    await Promise.all(handles.map((h) => h.result(AbortSignal.timeout(10_000))))
    await waitFor(
      () => api.openEventStreams === 0,
      5_000,
      () => `${api.openEventStreams} streams open`,
    )
    expect(node.taskEventListeners).toBe(quiet + 1)
  })

  it('a client that connects and drops 1,000 times leaves one listener, no stream and flat memory', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
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
    expect(node.taskEventListeners).toBe(quiet + 1)
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

describe('GET /events: ids, replay, gap, cut and end', () => {
  let bench: EventFixture | undefined
  afterEach(async () => {
    await bench?.close()
    bench = undefined
  })
  /** A bench closed after the test. */
  const start = async (opts?: EventStreamOptions) => {
    bench = await eventFixture(opts)
    return bench
  }

  /** Reads `n` task events, failing on a named event. */
  const read = async (stream: SseStream, n: number) => {
    const got: WatchedEvent[] = []
    while (got.length < n) got.push(await stream.next())
    return got
  }

  it('a stream that reconnects with Last-Event-ID gets exactly the events it missed that pass its filter', async () => {
    const b = await start()
    const first = await openSse(`${b.url}?event=finished`, '')
    b.emit(1, { prefix: 'a', event: 'started' })
    b.emit(1, { prefix: 'a', event: 'finished' })
    expect(await first.next()).toMatchObject({ taskId: 'a0', event: 'finished' })
    const id = first.lastId
    expect(id).toMatch(new RegExp(`^${b.streams.run}-\\d+$`))
    first.close()
    await once(b.responses[0], 'close')
    expect(b.streams.size).toBe(0)
    expect(b.events.listenerCount).toBe(1) // kept for the reconnect
    // missed: three finished, two started
    for (const p of ['b', 'c', 'd']) {
      b.emit(1, { prefix: p, event: 'started' })
      b.emit(1, { prefix: p, event: 'finished' })
    }
    const header = await openSse(`${b.url}?event=finished`, '', { 'last-event-id': id })
    const param = await openSse(`${b.url}?event=finished&lastEventId=${id}`, '')
    b.emit(1, { prefix: 'e', event: 'started' })
    b.emit(1, { prefix: 'e', event: 'finished' })
    for (const stream of [header, param]) {
      const got = await read(stream, 4)
      expect(got.map((e) => `${e.taskId} ${e.event}`)).toEqual([
        'b0 finished',
        'c0 finished',
        'd0 finished',
        'e0 finished',
      ])
      stream.close()
    }
  })

  it('an id from another run gives a gap of unknown size, then the events held and the live ones', async () => {
    const b = await start()
    const opening = await openSse(b.url, '')
    b.emit(2, { prefix: 'held' })
    await read(opening, 2)
    const other = b.streams.run === '0123456789abcdef' ? 'fedcba9876543210-1' : '0123456789abcdef-1'
    const resumed = await openSse(b.url, '', { 'last-event-id': other })
    expect(await resumed.message()).toEqual({
      kind: 'gap',
      reason: 'the id is from another run of the daemon (it restarted)',
    })
    b.emit(1, { prefix: 'live' })
    expect((await read(resumed, 3)).map((e) => e.taskId)).toEqual(['held0', 'held1', 'live0'])
    opening.close()
    resumed.close()
  })

  it('an id older than the events held gives a gap counting the lost events (at most, when filtered)', async () => {
    const b = await start({ replayBytes: 4_000 })
    const first = await openSse(b.url, '')
    b.emit(1, { prefix: 'seen' })
    await first.next()
    const id = first.lastId
    first.close()
    await once(b.responses[0], 'close')
    const missed = b.emit(40, { prefix: 'm', pad: 100 })
    const all = await openSse(b.url, '', { 'last-event-id': id })
    const filtered = await openSse(`${b.url}?event=started`, '', { 'last-event-id': id })
    const gap = await all.message()
    expect(gap).toMatchObject({ kind: 'gap', reason: expect.stringMatching(/fell behind/) })
    const lost = (gap as EventGap).lost as number
    expect(lost).toBeGreaterThan(0)
    expect(lost).toBeLessThan(40)
    const replayed = await read(all, 40 - lost)
    expect(replayed.map((e) => e.taskId)).toEqual(missed.slice(lost))
    expect(await filtered.message()).toEqual({
      kind: 'gap',
      reason: (gap as EventGap).reason,
      lostAtMost: lost,
    })
    expect((await read(filtered, 40 - lost)).map((e) => e.taskId)).toEqual(missed.slice(lost))
    all.close()
    filtered.close()
  })

  it('once no stream was open for lingerMs the listener goes, and a resume then is told events may be lost', async () => {
    const b = await start({ lingerMs: 30 })
    const first = await openSse(b.url, '')
    b.emit(1, { prefix: 'seen' })
    await first.next()
    const id = first.lastId
    first.close()
    await waitFor(() => b.events.listenerCount === 0, 2_000, 'the listener stayed')
    expect(b.streams.listening).toBe(false)
    b.emit(3, { prefix: 'unseen' }) // nobody listens: not numbered, not held
    const resumed = await openSse(b.url, '', { 'last-event-id': id })
    expect(await resumed.message()).toMatchObject({
      kind: 'gap',
      reason: expect.stringMatching(/no stream was open/),
    })
    b.emit(1, { prefix: 'live' })
    expect(await resumed.next()).toMatchObject({ taskId: 'live0' })
    resumed.close()
  })

  it('a resume whose replay is larger than the unsent limit is sent it all as the client reads, not cut', async () => {
    const b = await start({ maxUnsentBytes: 4_096 })
    const first = await openSse(b.url, '')
    b.emit(1, { prefix: 'seen' })
    await first.next()
    first.close()
    await once(b.responses[0], 'close')
    const missed = b.emit(2_000, { prefix: 'm', pad: 50 }) // ≈ 300 KB
    const resumed = await openSse(b.url, '', { 'last-event-id': first.lastId })
    b.emit(1, { prefix: 'live' })
    const got = await read(resumed, 2_001)
    expect(got.map((e) => e.taskId)).toEqual([...missed, 'live0'])
    expect(b.streams.cutOff).toBe(0)
    resumed.close()
  })

  it('a client that falls behind is sent event: cut with the id to resume after, then the stream ends', async () => {
    const b = await start({ maxUnsentBytes: 4_096 })
    const stream = await openSse(b.url, '')
    b.emit(2, { prefix: 'read' })
    await read(stream, 2)
    const id = stream.lastId
    const dropped = b.emit(100, { prefix: 'burst', pad: 100 }) // > 4 KiB in one turn
    const cut = await stream.message()
    expect(cut).toEqual({
      kind: 'cut',
      reason: expect.stringMatching(
        /^this stream fell \d+ bytes behind its client \(the node holds at most 4096 unsent\)$/,
      ),
      lastEventId: id,
    })
    await stream.ended()
    expect(b.streams.cutOff).toBe(1)
    const resumed = await openSse(b.url, '', { 'last-event-id': (cut as StreamCut).lastEventId as string })
    expect((await read(resumed, 100)).map((e) => e.taskId)).toEqual(dropped)
    resumed.close()
  })

  it('a client that never reads is cut off and its socket destroyed after the grace', async () => {
    const b = await start({
      maxUnsentBytes: 64 * 1024,
      cutGraceMs: 100,
      replayBytes: 64 * 1024,
    })
    const req = request(b.url)
    req.on('error', () => undefined)
    const response = once(req, 'response') as Promise<[IncomingMessage]>
    req.end()
    const [client] = await response
    client.pause() // reads nothing
    const res = await b.served(1)
    const started = Date.now()
    for (let turn = 0; b.streams.cutOff === 0; turn++) {
      if (turn > 5_000) throw new Error('never cut off')
      b.emit(6, { prefix: `t${turn}-`, pad: 8 * 1024 }) // 48 KiB a turn: under the limit, written each turn
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(res.writableEnded).toBe(true) // the cut is written, after the events
    expect(res.writableLength).toBeGreaterThan(64 * 1024) // and waits behind them
    await once(res, 'close')
    expect(res.destroyed).toBe(true)
    expect(Date.now() - started).toBeGreaterThanOrEqual(90)
    expect(Date.now() - started).toBeLessThan(1_500)
    expect(b.streams.size).toBe(0)
    // what reaches the client is the events the kernel held, without the cut
    let text = ''
    client.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk
    })
    const gone = new Promise((resolve) => client.on('close', resolve))
    client.on('error', () => undefined) // "aborted": the server destroyed the socket
    client.resume()
    await gone
    expect(text).toContain('data: {"taskId":"t0-0"')
    expect(text).not.toContain('event: cut')
  })

  it('close() sends every stream the events due, then event: end with the reason, and ends it', async () => {
    const b = await start()
    const all = await openSse(b.url, '')
    const filtered = await openSse(`${b.url}?event=finished`, '')
    b.emit(1, { prefix: 'due' }) // not yet written when the close comes
    b.streams.close('the daemon is stopping')
    expect(await all.next()).toMatchObject({ taskId: 'due0' })
    for (const stream of [all, filtered]) {
      expect(await stream.message()).toEqual({ kind: 'end', reason: 'the daemon is stopping' })
      await stream.ended()
    }
    expect(b.streams.listening).toBe(false)
    expect(b.events.listenerCount).toBe(0)
  })
})

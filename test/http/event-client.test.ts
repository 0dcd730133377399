import { afterEach, describe, expect, it } from 'vitest'
import {
  type EventGap,
  EventStreamEnded,
  isEventGap,
  type WatchedEvent,
} from '../../src/client/event-source.ts'
import { HttpClient } from '../../src/client/http-client.ts'
import type { EventStreamOptions } from '../../src/http/event-stream.ts'
import { type EventFixture, eventFixture } from './event-fixture.ts'

/** `HttpClient.events()` against `EventStreams` over real HTTP: cuts, gaps and the end. */

let bench: EventFixture | undefined
const stop = new Set<AbortController>()
afterEach(async () => {
  for (const c of stop) c.abort()
  stop.clear()
  await bench?.close()
  bench = undefined
})

/** A bench closed after the test, a client of it, and its event iterator (aborted after the test). */
async function start(opts?: EventStreamOptions) {
  bench = await eventFixture(opts)
  const client = new HttpClient(bench.url.replace(/\/events$/, ''))
  const abort = new AbortController()
  stop.add(abort)
  const items = client.events({}, abort.signal)[Symbol.asyncIterator]()
  return { b: bench, items, abort }
}

/** The next `n` items of the iterator. */
async function take(items: AsyncIterator<WatchedEvent | EventGap>, n: number) {
  const got: Array<WatchedEvent | EventGap> = []
  while (got.length < n) {
    const r = await items.next()
    if (r.done === true) throw new Error(`the events ended after ${got.length} of ${n}`)
    got.push(r.value)
  }
  return got
}

describe('HttpClient.events', () => {
  it('resumes a stream the daemon cuts off, yielding every event once and no gap', async () => {
    const { b, items } = await start({ maxUnsentBytes: 4_096 })
    const first = items.next() // connects
    await b.served(1)
    b.emit(1, { prefix: 'first' })
    expect((await first).value).toMatchObject({ taskId: 'first0' })
    const burst = b.emit(200, { prefix: 'burst', pad: 100 }) // ≈ 40 KB in one turn: cut off
    const replayed = take(items, 200)
    await b.served(2) // it came back by itself
    expect(b.streams.cutOff).toBe(1)
    expect(b.responses[1].req.headers['last-event-id']).toMatch(new RegExp(`^${b.streams.run}-1$`))
    const got = await replayed
    b.emit(1, { prefix: 'live' })
    const [live] = await take(items, 1)
    expect(got.map((e) => (isEventGap(e) ? 'gap' : e.taskId))).toEqual(burst)
    expect(live).toMatchObject({ taskId: 'live0' })
    expect(b.responses).toHaveLength(2)
  })

  it('yields a gap marker where the daemon says events were lost, then goes on', async () => {
    const { b, items } = await start({ maxUnsentBytes: 4_096, replayBytes: 4_000 })
    const first = items.next()
    await b.served(1)
    b.emit(1, { prefix: 'first' })
    await first
    const burst = b.emit(200, { prefix: 'burst', pad: 100 }) // cut off, and more than the node holds
    const [gap] = await take(items, 1)
    if (!isEventGap(gap)) throw new Error(`expected a gap, got ${JSON.stringify(gap)}`)
    expect(gap).toEqual({
      kind: 'gap',
      reason: expect.stringMatching(/fell behind/),
      lost: expect.any(Number),
    })
    const lost = gap.lost as number
    expect(lost).toBeGreaterThan(0)
    const rest = await take(items, 200 - lost)
    expect(rest.map((e) => (isEventGap(e) ? 'gap' : e.taskId))).toEqual(burst.slice(lost))
  })

  it('rejects with EventStreamEnded, saying why, when the daemon ends the stream', async () => {
    const { b, items } = await start()
    const first = items.next()
    await b.served(1)
    b.streams.close('the daemon is stopping')
    const err = await first.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(EventStreamEnded)
    expect((err as Error).message).toBe('the daemon ended the event stream: the daemon is stopping')
    expect((err as EventStreamEnded).code).toBe('ERR_STREAM_ENDED')
  })

  it('returns when its signal aborts', async () => {
    const { b, items, abort } = await start()
    const first = items.next()
    await b.served(1)
    abort.abort()
    expect(await first).toEqual({ done: true, value: undefined })
  })
})

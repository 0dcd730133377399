import { describe, expect, it } from 'vitest'
import { readEvents, readSse, type SseEvent, type StreamMessage } from '../../src/client/event-source.ts'

/** A body made of `chunks`, each its own read. */
function body(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c))
      controller.close()
    },
  })
}

async function all<T>(gen: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of gen) out.push(x)
  return out
}

describe('readSse', () => {
  it('reads LF, CRLF and CR line ends, a CRLF split between reads, ids kept from event to event', async () => {
    const got = await all(
      readSse(
        body([
          'retry: 2000\n: hello\n\nid: a-1\ndata: one\r',
          '\n\r\ndata: two\rdata: lines\r\r',
          'event: cut\n',
          'data: {}\n\n',
        ]),
      ),
    )
    expect(got).toEqual<SseEvent[]>([
      { type: 'message', data: 'one', id: 'a-1' },
      { type: 'message', data: 'two\nlines', id: 'a-1' },
      { type: 'cut', data: '{}', id: 'a-1' },
    ])
  })

  it('skips an event without data and a trailing event never ended by a blank line', async () => {
    const got = await all(readSse(body(['event: gap\n\n', 'data:x\n\n', 'data: cut short\n'])))
    expect(got).toEqual([{ type: 'message', data: 'x', id: '' }])
  })
})

describe('readEvents', () => {
  it('reads task events with their ids, and the gap, cut and end events', async () => {
    const text = [
      'id: r-1\ndata: {"taskId":"t","event":"queued","at":1}\n\n',
      'event: gap\nid: r-4\ndata: {"reason":"fell behind","lostAtMost":3}\n\n',
      'event: cut\nid: r-5\ndata: {"reason":"fell 9 bytes behind","lastEventId":"r-5"}\n\n',
      'event: end\ndata: {"reason":"the daemon is stopping"}\n\n',
      'event: other\ndata: {}\n\n',
    ]
    expect(await all(readEvents(body(text)))).toEqual<StreamMessage[]>([
      { kind: 'event', id: 'r-1', event: { taskId: 't', event: 'queued', at: 1 } },
      { kind: 'gap', reason: 'fell behind', lostAtMost: 3 },
      { kind: 'cut', reason: 'fell 9 bytes behind', lastEventId: 'r-5' },
      { kind: 'end', reason: 'the daemon is stopping' },
    ])
  })
})

import { readEvents, type StreamMessage, type WatchedEvent } from '../../src/client/event-source.ts'

/** An open `GET /events` stream read as a test reads it: one message at a time. */
export interface SseStream {
  status: number
  /** The next task event; rejects when the stream ends, a named event comes first, or `timeoutMs` passes. */
  next(timeoutMs?: number): Promise<WatchedEvent>
  /** The next message: a task event with its id, or a named event (`gap`, `cut`, `end`). */
  message(timeoutMs?: number): Promise<StreamMessage>
  /** Resolves when the body ends with no message before; rejects on a message or after `timeoutMs`. */
  ended(timeoutMs?: number): Promise<void>
  /** The id of the last task event read ('' before the first). */
  readonly lastId: string
  close(): void
}

/**
 * Opens `url` (a `/events` URL) with the token (none when `token` is empty) and `headers`;
 * resolves once the response headers arrived.
 */
export async function openSse(
  url: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<SseStream> {
  const cut = new AbortController()
  const sent = token === '' ? headers : { ...headers, authorization: `Bearer ${token}` }
  const res = await fetch(url, { headers: sent, signal: cut.signal })
  if (res.body === null) throw new Error(`GET ${url}: no body (HTTP ${res.status})`)
  const messages = readEvents(res.body)
  let lastId = ''
  const read = async (timeoutMs: number): Promise<IteratorResult<StreamMessage>> => {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs)
    })
    try {
      const got = await Promise.race([messages.next(), late])
      if (got.done !== true && got.value.kind === 'event') lastId = got.value.id
      return got
    } finally {
      clearTimeout(timer)
    }
  }
  const message = async (timeoutMs = 10_000) => {
    const got = await read(timeoutMs)
    if (got.done === true) throw new Error('the event stream ended')
    return got.value
  }
  return {
    status: res.status,
    message,
    async next(timeoutMs = 10_000) {
      const m = await message(timeoutMs)
      if (m.kind !== 'event') throw new Error(`expected a task event, got "${m.kind}": ${JSON.stringify(m)}`)
      return m.event
    },
    async ended(timeoutMs = 10_000) {
      const got = await read(timeoutMs)
      if (got.done !== true) throw new Error(`expected the end, got ${JSON.stringify(got.value)}`)
    },
    get lastId() {
      return lastId
    },
    close: () => cut.abort(),
  }
}

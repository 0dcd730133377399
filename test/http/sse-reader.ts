import { readEvents, type WatchedEvent } from '../../src/client/event-source.ts'

/** An open `GET /events` stream read as a test reads it: one parsed `data:` event at a time. */
export interface SseStream {
  status: number
  /** The next event; rejects when the stream ends first or `timeoutMs` passes. */
  next(timeoutMs?: number): Promise<WatchedEvent>
  close(): void
}

/** Opens `url` (a `/events` URL) with the token; resolves once the response headers arrived. */
export async function openSse(url: string, token: string): Promise<SseStream> {
  const cut = new AbortController()
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: cut.signal })
  if (res.body === null) throw new Error(`GET ${url}: no body (HTTP ${res.status})`)
  const events = readEvents(res.body)
  return {
    status: res.status,
    async next(timeoutMs = 10_000) {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), timeoutMs)
      })
      try {
        const got = await Promise.race([events.next(), late])
        if (got.done === true) throw new Error('the event stream ended')
        return got.value
      } finally {
        clearTimeout(timer)
      }
    },
    close: () => cut.abort(),
  }
}

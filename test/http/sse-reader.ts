import { type ClientRequest, type IncomingMessage, request } from 'node:http'

/** An open `GET /events` stream read as a test reads it: one parsed `data:` event at a time. */
export interface SseStream {
  status: number
  /** The next event, or rejects when the stream ends first or `timeoutMs` passes. */
  next(timeoutMs?: number): Promise<Record<string, unknown>>
  /** Resolves with the first event `match` accepts (skipping the others). */
  find(match: (e: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
  close(): void
}

/** Opens `url` (a `/events` URL) with the token; resolves once the response headers arrived. */
export function openSse(url: string, token: string): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req: ClientRequest = request(url, { headers: { authorization: `Bearer ${token}` } })
    req.on('error', reject)
    req.on('response', (res: IncomingMessage) => {
      const queue: Array<Record<string, unknown>> = []
      const waiting: Array<() => void> = []
      let buffer = ''
      let ended = false
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        let cut = buffer.indexOf('\n\n')
        while (cut >= 0) {
          const block = buffer.slice(0, cut)
          buffer = buffer.slice(cut + 2)
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n')
          if (data !== '') queue.push(JSON.parse(data))
          cut = buffer.indexOf('\n\n')
        }
        for (const w of waiting.splice(0)) w()
      })
      res.on('close', () => {
        ended = true
        for (const w of waiting.splice(0)) w()
      })
      const next = async (timeoutMs = 10_000): Promise<Record<string, unknown>> => {
        const until = Date.now() + timeoutMs
        while (queue.length === 0) {
          if (ended) throw new Error('the event stream ended')
          const left = until - Date.now()
          if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`)
          await new Promise<void>((wake) => {
            const t = setTimeout(wake, left)
            waiting.push(() => {
              clearTimeout(t)
              wake()
            })
          })
        }
        return queue.shift() as Record<string, unknown>
      }
      resolve({
        status: res.statusCode ?? 0,
        next,
        async find(match, timeoutMs = 10_000) {
          const until = Date.now() + timeoutMs
          for (;;) {
            const e = await next(Math.max(1, until - Date.now()))
            if (match(e)) return e
          }
        },
        close: () => req.destroy(),
      })
    })
    req.end()
  })
}

import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  type EventStreamOptions,
  EventStreams,
  parseEventFilter,
  parseResumeId,
} from '../../src/http/event-stream.ts'
import { TaskEvents } from '../../src/node/story/task-events.ts'

/**
 * `EventStreams` over real HTTP on 127.0.0.1, fed by a `TaskEvents` the test emits into (no
 * node): `GET /events` with its filter and `Last-Event-ID` / `?lastEventId=`, no token.
 */
export interface EventFixture {
  events: TaskEvents
  streams: EventStreams
  /** The `/events` URL. */
  url: string
  /** The server's response of each stream, in the order they were served. */
  responses: ServerResponse[]
  /** Resolves with the response of the `n`-th stream served (1-based) once it is served. */
  served(n: number): Promise<ServerResponse>
  /** Emits `n` events named `event`, task ids `<prefix>0`, `<prefix>1`, … with `pad` characters of detail. */
  emit(n: number, opts?: { prefix?: string; event?: string; pad?: number; status?: string }): string[]
  close(): Promise<void>
}

export async function eventFixture(opts: EventStreamOptions = {}): Promise<EventFixture> {
  const events = new TaskEvents()
  const streams = new EventStreams({ onTaskEvent: (listener) => events.on(listener) }, opts)
  const responses: ServerResponse[] = []
  const waiting = new Map<number, (res: ServerResponse) => void>()
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    try {
      const filter = parseEventFilter(url)
      const after = parseResumeId(req, url)
      responses.push(res)
      streams.serve(res, filter, after)
      waiting.get(responses.length)?.(res)
    } catch (err) {
      const body = JSON.stringify({ error: (err as Error).message, field: (err as { field?: string }).field })
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end(body)
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    events,
    streams,
    url: `http://127.0.0.1:${port}/events`,
    responses,
    served(n) {
      if (responses.length >= n) return Promise.resolve(responses[n - 1])
      return new Promise((resolve) => waiting.set(n, resolve))
    },
    emit(n, { prefix = 't', event = 'started', pad = 0, status } = {}) {
      const ids: string[] = []
      for (let i = 0; i < n; i++) {
        const id = `${prefix}${i}`
        ids.push(id)
        const detail: Record<string, string> = {}
        if (pad > 0) detail.pad = 'x'.repeat(pad)
        if (status !== undefined) detail.status = status
        events.emit(id, event, detail)
      }
      return ids
    },
    async close() {
      streams.close('the test ended')
      const closed = once(server, 'close')
      server.close()
      server.closeAllConnections()
      await closed
    },
  }
}

/** One event of a daemon's `GET /events` stream (see `StreamedEvent` in src/http/event-stream.ts). */
export interface WatchedEvent {
  taskId: string
  event: string
  /** Unix ms. */
  at: number
  detail?: Record<string, string | number | boolean>
  /** The task's state at the node after the event, when the event changes it. */
  state?: string
}

/**
 * Reads a Server-Sent Events body: yields the JSON of each `data:` field (comments, `id:` and
 * `retry:` lines are skipped) until the body ends.
 */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<WatchedEvent> {
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true })
    let cut = buffer.indexOf('\n\n')
    while (cut >= 0) {
      const block = buffer.slice(0, cut)
      buffer = buffer.slice(cut + 2)
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
        .join('\n')
      if (data !== '') yield JSON.parse(data) as WatchedEvent
      cut = buffer.indexOf('\n\n')
    }
  }
}

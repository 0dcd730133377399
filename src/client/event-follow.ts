import {
  type EventGap,
  EventStreamEnded,
  readEvents,
  type StreamCut,
  type WatchedEvent,
} from './event-source.ts'

/** Times in a row {@link followEvents} resumes a stream cut off before anything came between. */
export const MAX_FRUITLESS_CUTS = 3

/**
 * Opens `GET /events`, resuming after `lastId` (sent as `Last-Event-ID`) when given; resolves
 * with the body, or undefined when the signal aborted first; rejects with the daemon's refusal.
 */
export type OpenEventStream = (lastId: string | undefined) => Promise<ReadableStream<Uint8Array> | undefined>

/**
 * Reads a daemon's event stream across the cuts it makes: yields each task event and each
 * {@link EventGap} the daemon reports; on `event: cut` it opens the stream again after the cut's
 * `lastEventId` (or the last event's id), so no event is lost or repeated. Returns when the body
 * ends without a word or `signal` aborts; rejects with {@link EventStreamEnded} on `event: end`,
 * and with an error naming `daemon` when the stream breaks off or is cut again and again.
 */
export async function* followEvents(
  open: OpenEventStream,
  daemon: string,
  signal?: AbortSignal,
): AsyncGenerator<WatchedEvent | EventGap, void, undefined> {
  let lastId: string | undefined
  let fruitless = 0 // cuts in a row with nothing yielded between
  for (;;) {
    const body = await open(lastId)
    if (body === undefined) return
    let cut: StreamCut | undefined
    try {
      for await (const m of readEvents(body)) {
        if (m.kind === 'end') throw new EventStreamEnded(m.reason)
        if (m.kind === 'cut') {
          cut = m
          break
        }
        fruitless = 0
        if (m.kind === 'gap') yield m
        else {
          if (m.id !== '') lastId = m.id
          yield m.event
        }
      }
    } catch (err) {
      if (signal?.aborted === true) return
      if (err instanceof EventStreamEnded) throw err
      const cause = (err as { cause?: { message?: string } }).cause?.message
      const why = cause === undefined ? (err as Error).message : `${(err as Error).message}: ${cause}`
      throw new Error(`the event stream from the daemon at ${daemon} broke off (${why})`)
    }
    if (cut === undefined) return
    if (++fruitless > MAX_FRUITLESS_CUTS) {
      throw new Error(`the daemon cut the event stream off ${fruitless} times in a row: ${cut.reason}`)
    }
    lastId = cut.lastEventId ?? lastId
  }
}

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
 * Events were lost between the event before this marker and the one after it (the daemon's
 * `event: gap`): the stream resumed after an id the daemon no longer holds the events after (the
 * watch fell behind or was away too long), or from another run of the daemon (it restarted).
 * At most one of `lost` and `lostAtMost` is set; neither when the number is not known.
 */
export interface EventGap {
  /** Tells the marker from a {@link WatchedEvent} (which has no `kind`). */
  readonly kind: 'gap'
  /** Why, as the daemon says it. */
  reason: string
  /** How many events were lost (a stream without a filter). */
  lost?: number
  /** How many of the daemon's events were lost; the ones a filtered stream would have passed may be fewer. */
  lostAtMost?: number
}

/** The daemon cut the stream off (`event: cut`: it fell behind); resume after `lastEventId`. */
export interface StreamCut {
  readonly kind: 'cut'
  reason: string
  /** The id to send as `Last-Event-ID` to continue where the stream was cut. */
  lastEventId?: string
}

/** The daemon ended the stream (`event: end`), e.g. because it is stopping. */
export interface StreamEnd {
  readonly kind: 'end'
  reason: string
}

/** A task event, with the id the daemon sent it under (the stream's last event id). */
export interface IdentifiedEvent {
  readonly kind: 'event'
  /** The `Last-Event-ID` to resume after this event (empty when the daemon sent none). */
  id: string
  event: WatchedEvent
}

/** What {@link readEvents} reads from a `GET /events` stream: a task event, or a named event. */
export type StreamMessage = IdentifiedEvent | EventGap | StreamCut | StreamEnd

/** True when `item` is an {@link EventGap} marker rather than a {@link WatchedEvent}. */
export function isEventGap(item: WatchedEvent | EventGap): item is EventGap {
  return (item as Partial<EventGap>).kind === 'gap'
}

/** One dispatched Server-Sent Event: its type (`message` when none was named), data, and last id. */
export interface SseEvent {
  type: string
  data: string
  /** The last event id (the stream's, kept from event to event as the SSE standard says). */
  id: string
}

/**
 * Reads a Server-Sent Events body as the WHATWG standard does (lines end with LF, CRLF or CR;
 * `data:` lines joined by LF; `event:`, `id:`; comments and `retry:` skipped; an event with no
 * `data:` line is not dispatched) until the body ends.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder()
  let buffer = ''
  let lastId = ''
  let type = ''
  let data: string[] = []
  let id: string | undefined
  let afterCr = false
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    let text = decoder.decode(chunk, { stream: true })
    // a CR ends a line; a CRLF split between chunks: its LF ends nothing more
    if (afterCr && text.startsWith('\n')) text = text.slice(1)
    afterCr = text.endsWith('\r')
    buffer += text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text
    let start = 0
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n', start)) {
      const line = buffer.slice(start, nl)
      start = nl + 1
      if (line === '') {
        if (id !== undefined) lastId = id
        id = undefined
        if (data.length > 0) yield { type: type === '' ? 'message' : type, data: data.join('\n'), id: lastId }
        type = ''
        data = []
        continue
      }
      const colon = line.indexOf(':')
      if (colon === 0) continue // a comment
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1)
      if (field === 'data') data.push(value)
      else if (field === 'event') type = value
      else if (field === 'id' && !value.includes('\0')) id = value
    }
    buffer = buffer.slice(start)
  }
}

/**
 * Reads a `GET /events` body: each task event (`data:` JSON) with its id, and the daemon's named
 * events `gap`, `cut` and `end` (their `data:` JSON); other named events are skipped.
 */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamMessage> {
  for await (const sse of readSse(body)) {
    if (sse.type === 'message') {
      yield { kind: 'event', id: sse.id, event: JSON.parse(sse.data) as WatchedEvent }
      continue
    }
    if (sse.type !== 'gap' && sse.type !== 'cut' && sse.type !== 'end') continue
    const said = JSON.parse(sse.data) as { reason?: unknown; lost?: unknown; lostAtMost?: unknown }
    const reason = typeof said.reason === 'string' ? said.reason : `the daemon sent "${sse.type}"`
    if (sse.type === 'end') yield { kind: 'end', reason }
    else if (sse.type === 'cut') {
      const lastEventId = (said as { lastEventId?: unknown }).lastEventId
      yield typeof lastEventId === 'string' ? { kind: 'cut', reason, lastEventId } : { kind: 'cut', reason }
    } else {
      const gap: EventGap = { kind: 'gap', reason }
      if (typeof said.lost === 'number') gap.lost = said.lost
      else if (typeof said.lostAtMost === 'number') gap.lostAtMost = said.lostAtMost
      yield gap
    }
  }
}

/** The daemon ended its event stream saying why (`event: end`), e.g. `the daemon is stopping`. */
export class EventStreamEnded extends Error {
  override readonly name = 'EventStreamEnded'
  readonly code = 'ERR_STREAM_ENDED'
  constructor(
    /** Why, as the daemon said it. */
    readonly reason: string,
  ) {
    super(`the daemon ended the event stream: ${reason}`)
  }
}

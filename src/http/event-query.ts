import type { IncomingMessage } from 'node:http'
import type { TaskEvent } from '../node/story/task-events.ts'
import { TASK_EVENTS } from '../node/watch/event-states.ts'
import { LISTED_STATES, type ListedState } from '../node/watch/task-list.ts'
import { isTaskId } from '../task/task-id.ts'
import { BadQueryError, checkParams, listParam } from './query.ts'
import { type EventId, parseEventId } from './recent-events.ts'

/** Most task ids one `?ids=` filter names. */
export const MAX_FILTER_IDS = 256

/** Which events a stream sends: each filter given must match (an item of its list). */
export interface EventFilter {
  ids?: Set<string>
  events?: Set<string>
  states?: Set<ListedState>
}

/**
 * Reads the filter of `GET /events` (`ids`, `event`, `state`: comma-separated lists); the route's
 * other parameter, `lastEventId`, is read by {@link parseResumeId}.
 * @throws BadQueryError naming an unknown parameter, an id that is not one, an unknown event or state.
 */
export function parseEventFilter(url: URL): EventFilter {
  checkParams(url, 'GET /events', ['ids', 'event', 'state', 'lastEventId'])
  const ids = listParam(url, 'ids', { valid: isTaskId, expected: 'a task id (a CIDv1)', max: MAX_FILTER_IDS })
  const events = listParam(url, 'event', {
    valid: (e) => Object.hasOwn(TASK_EVENTS, e),
    expected: `a task event (${Object.keys(TASK_EVENTS).join(', ')})`,
    max: Object.keys(TASK_EVENTS).length,
  })
  const states = listParam(url, 'state', {
    valid: (s) => (LISTED_STATES as readonly string[]).includes(s),
    expected: `a state (${LISTED_STATES.join(', ')})`,
    max: LISTED_STATES.length,
  })
  const filter: EventFilter = {}
  if (ids !== undefined) filter.ids = new Set(ids)
  if (events !== undefined) filter.events = new Set(events)
  if (states !== undefined) filter.states = new Set(states as ListedState[])
  return filter
}

/** True when `filter` lets every event through. */
export function passesAll(filter: EventFilter): boolean {
  return filter.ids === undefined && filter.events === undefined && filter.states === undefined
}

/** True when `e` (with the state it leads to) passes `filter`. */
export function passes(
  filter: EventFilter,
  e: Pick<TaskEvent, 'taskId' | 'event'>,
  state: ListedState | undefined,
): boolean {
  if (filter.ids !== undefined && !filter.ids.has(e.taskId)) return false
  if (filter.events !== undefined && !filter.events.has(e.event)) return false
  if (filter.states !== undefined && (state === undefined || !filter.states.has(state))) return false
  return true
}

/**
 * The id a stream resumes after: the `Last-Event-ID` header (an `EventSource` sends it when it
 * reconnects), else the `?lastEventId=` parameter (for a client that cannot send headers); the
 * header wins when both are given, and an empty one counts as absent.
 * @throws BadQueryError naming the header (`last-event-id`) or the parameter (`lastEventId`) when
 *   it is not an id of the form `<16 hex digits>-<number>`.
 */
export function parseResumeId(req: IncomingMessage, url: URL): EventId | undefined {
  const header = req.headers['last-event-id']
  const fromHeader = Array.isArray(header) ? header.join(', ') : header
  const fromParam = url.searchParams.get('lastEventId') ?? undefined
  const param = fromParam === undefined || fromParam === '' ? undefined : checkId(fromParam, 'lastEventId')
  if (fromHeader !== undefined && fromHeader.trim() !== '') return checkId(fromHeader.trim(), 'last-event-id')
  return param
}

function checkId(text: string, field: 'last-event-id' | 'lastEventId'): EventId {
  const id = parseEventId(text)
  if (id !== undefined) return id
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text
  const name = field === 'last-event-id' ? 'the Last-Event-ID header' : 'lastEventId'
  throw new BadQueryError(
    `${name} must be an id this stream sent (<16 hex digits>-<number>), got "${shown}"`,
    field,
  )
}

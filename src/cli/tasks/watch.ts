import { type EventGap, isEventGap, type WatchedEvent } from '../../client/event-source.ts'
import { openHttpTarget } from './http-target.ts'
import type { TargetOptions } from './target.ts'

/** Flags of `taskmesh watch`. */
export interface WatchFlags extends TargetOptions {
  ids?: string
  state?: string
  event?: string
  json: boolean
}

/** `HH:MM:SS.mmm` of a Unix ms time, in UTC. */
function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 23)
}

/**
 * Characters besides the C0 controls that make a value quoted: white space, quotes, `=`,
 * backslash, the C1 controls, and the Unicode line and paragraph separators and bidirectional
 * controls (a terminal may show them as a line break or reorder the line around them).
 */
const UNSAFE = /[\s"'=\\\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/
/** What JSON quoting leaves as is but a terminal would not show as one plain character. */
const UNSEEN = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/** True when `text` can be printed bare: not empty, nothing of {@link UNSAFE}, no C0 control. */
function isPlain(text: string): boolean {
  if (text === '' || UNSAFE.test(text)) return false
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return false
  return true
}

/**
 * A value as `taskmesh watch` prints it: bare when it is plain (`failed`, `3`, `boom`), else a
 * JSON string (`"boom\nline 2"`, `""`) with every control character escaped, so it never spans
 * lines or passes for more facts.
 */
export function quoteValue(value: string | number | boolean): string {
  const text = String(value)
  if (isPlain(text)) return text
  return JSON.stringify(text).replace(UNSEEN, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/**
 * One line of `taskmesh watch`: time (UTC), task id, event, the state it leads to, and its facts,
 * e.g. `10:51:37.204 bafkrei… finished  state=failed status=failed epoch=1 error=boom`. A fact
 * whose value holds white space, quotes, `=` or control characters is quoted (see
 * {@link quoteValue}): one event is always one line.
 */
export function formatEvent(e: WatchedEvent): string {
  const facts = Object.entries(e.detail ?? {}).map(([k, v]) => `${quoteValue(k)}=${quoteValue(v)}`)
  const state = e.state === undefined ? [] : [`state=${quoteValue(e.state)}`]
  return [clock(e.at), quoteValue(e.taskId), quoteValue(e.event).padEnd(16), ...state, ...facts]
    .join(' ')
    .trimEnd()
}

/** What `taskmesh watch` prints on stderr for a gap: e.g. `taskmesh: 12 events were lost (…)`. */
export function formatGap(gap: EventGap): string {
  const n = gap.lost ?? gap.lostAtMost
  const count =
    n === undefined
      ? 'events were lost'
      : `${gap.lost === undefined ? 'up to ' : ''}${n} ${n === 1 ? 'event was' : 'events were'} lost`
  return `taskmesh: ${count} (${gap.reason})`
}

/**
 * `taskmesh watch`: prints one line per task event of the daemon (see {@link formatEvent}), or
 * the JSON of each with `--json`, filtered by `--ids`, `--state` and `--event` (the node checks
 * them: a bad one is refused with the reason). A stream the daemon cuts off is resumed without a
 * loss; events the daemon says were lost are reported on stderr (see {@link formatGap}). Runs
 * until interrupted (exit 0); a stream the daemon ends (it stopped) exits 1, saying why.
 */
export async function runWatch(flags: WatchFlags): Promise<void> {
  const target = await openHttpTarget(flags, 'taskmesh watch')
  const query: Record<string, string> = {}
  if (flags.ids !== undefined) query.ids = flags.ids
  if (flags.state !== undefined) query.state = flags.state
  if (flags.event !== undefined) query.event = flags.event
  const stop = new AbortController()
  const interrupted = () => stop.abort()
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  try {
    for await (const e of target.events(query, stop.signal)) {
      if (isEventGap(e)) console.error(formatGap(e))
      else console.log(flags.json ? JSON.stringify(e) : formatEvent(e))
    }
    if (!stop.signal.aborted) throw new Error('the daemon ended the event stream (did it stop?)')
  } finally {
    process.off('SIGINT', interrupted)
    process.off('SIGTERM', interrupted)
    await target.close()
  }
}

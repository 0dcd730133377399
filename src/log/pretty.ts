import type { DestinationStream } from 'pino'

/** pino's numeric levels, by name. */
const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
}
/** Fields every line has, shown in the line's head rather than among the facts. */
const HEAD_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'peerId', 'stack', 'err'])
/** Characters of a peer id kept in a readable line (its end: the start is the same for every key). */
const PEER_ID_TAIL = 8

function timeOf(time: unknown): string {
  const date = new Date(typeof time === 'string' || typeof time === 'number' ? time : Date.now())
  return Number.isNaN(date.getTime()) ? String(time) : date.toISOString().slice(11, 23)
}

function fieldText(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)
  return JSON.stringify(v) ?? String(v)
}

function stackOf(entry: Record<string, unknown>): string | undefined {
  const err = entry.err as { stack?: unknown } | undefined
  const stack = typeof entry.stack === 'string' ? entry.stack : err?.stack
  return typeof stack === 'string' ? stack : undefined
}

/**
 * One pino JSON line as a line a person reads on a terminal:
 * `10:31:02.123 WARN  …x7Kq2mPa task failed taskId=bafk… error="boom"`, the stack (if any) below it,
 * indented.
 */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`
  }
  const level =
    typeof entry.level === 'number'
      ? (LEVEL_NAMES[entry.level] ?? String(entry.level))
      : String(entry.level).toUpperCase()
  const peer = typeof entry.peerId === 'string' ? ` …${entry.peerId.slice(-PEER_ID_TAIL)}` : ''
  const facts = Object.entries(entry)
    .filter(([k]) => !HEAD_FIELDS.has(k))
    .map(([k, v]) => ` ${k}=${fieldText(v)}`)
    .join('')
  const stack = stackOf(entry)
  const below = stack === undefined ? '' : `\n${stack.replace(/^/gm, '    ')}`
  return `${timeOf(entry.time)} ${level.padEnd(5)}${peer} ${String(entry.msg ?? '')}${facts}${below}\n`
}

/** A pino destination that writes each line to `target` as {@link prettyLine} shows it. */
export function prettyDestination(target: { write(line: string): unknown }): DestinationStream {
  return { write: (line: string) => void target.write(prettyLine(line)) }
}

import type { Logger } from 'pino'

/** A task event as a node emits it (`TaskEvents`): the task, what happened, when, and its facts. */
export interface LoggedTaskEvent {
  taskId: string
  event: string
  at: number
  detail?: Record<string, string | number | boolean>
}

type Level = 'debug' | 'info' | 'warn'

/**
 * What an operator reads about each task event, and at which level. Events not listed are logged
 * at `debug` under their own name (accepted, queued, started, stored, granted, stolen, …): the
 * normal life of a task, which `taskmesh story <id>` tells in full.
 */
const LINES: Record<string, { level: Level; msg: string }> = {
  retried: { level: 'info', msg: 'task attempt failed: retrying' },
  'lease-expired': { level: 'warn', msg: 'lease expired: task requeued' },
  'lease-lost': { level: 'warn', msg: 'lease holder declared dead: task requeued' },
  'renew-rejected': { level: 'info', msg: 'lease renewal rejected' },
  adopted: { level: 'info', msg: 'task adopted from a dead owner' },
  replayed: { level: 'info', msg: 'journal replay: task requeued' },
  unschedulable: { level: 'warn', msg: 'task unschedulable: no live node can run it' },
  schedulable: { level: 'info', msg: 'task schedulable again' },
  'completion-stale': { level: 'warn', msg: 'stale completion: the owner accepted another run' },
  'completion-undelivered': { level: 'warn', msg: 'completion not delivered to the owner' },
  'dependency-failed': { level: 'info', msg: 'task failed: a dependency failed' },
  dropped: { level: 'info', msg: 'run dropped: lease revoked or task cancelled' },
  cancelled: { level: 'info', msg: 'task cancelled' },
}

/** The level and message of one task event (see {@link LINES}; `finished` and `completed` by outcome). */
export function taskLogLine(e: LoggedTaskEvent): { level: Level; msg: string } {
  if (e.event === 'finished') {
    const status = e.detail?.status
    if (status === 'failed') return { level: 'warn', msg: 'task failed' }
    if (status === 'cancelled') return { level: 'info', msg: 'task cancelled' }
    return { level: 'debug', msg: 'task finished' }
  }
  if (e.event === 'completed' && e.detail?.outcome === 'stale') {
    return { level: 'warn', msg: 'stale completion refused: an older lease reported' }
  }
  return LINES[e.event] ?? debugLine(e.event)
}

/** The `debug` lines of the events {@link LINES} does not list, made once per event name. */
const DEBUG_LINES = new Map<string, { level: Level; msg: string }>()

/** The `debug` line of an event of the normal life of a task (a few dozen names at most). */
function debugLine(event: string): { level: Level; msg: string } {
  let line = DEBUG_LINES.get(event)
  if (line === undefined) {
    line = { level: 'debug', msg: `task ${event}` }
    // a peer cannot name events (they are this node's own), but keep the table bounded anyway
    if (DEBUG_LINES.size < 256) DEBUG_LINES.set(event, line)
  }
  return line
}

/**
 * Logs one task event: `{ taskId, event, ...detail }` with the message of {@link taskLogLine}
 * (a failed attempt's `stack` becomes a field of its own, shown below the line when readable).
 */
export function logTaskEvent(log: Logger, e: LoggedTaskEvent): void {
  const { level, msg } = taskLogLine(e)
  if (!log.isLevelEnabled(level)) return
  log[level]({ taskId: e.taskId, event: e.event, ...e.detail }, msg)
}

/** Logs every event a node emits from now on; returns what stops it. */
export function logTaskEvents(
  log: Logger,
  events: { on(listener: (e: LoggedTaskEvent) => void): () => void },
): () => void {
  return events.on((e) => logTaskEvent(log, e))
}

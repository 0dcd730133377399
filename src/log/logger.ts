import { type DestinationStream, type Logger, pino } from 'pino'
import { DEFAULT_LOG_LEVEL, type LogLevel } from './levels.ts'
import { prettyDestination } from './pretty.ts'

export type { Logger } from 'pino'
export {
  DEFAULT_LOG_LEVEL,
  LOG_LEVEL_ENV,
  LOG_LEVELS,
  type LogLevel,
  logLevelOf,
  parseLogLevel,
} from './levels.ts'

/** How log lines look: JSON (one object a line), readable lines, or JSON unless on a terminal. */
export type LogFormat = 'json' | 'pretty' | 'auto'

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** @defaultValue DEFAULT_LOG_LEVEL */
  level?: LogLevel
  /** @defaultValue 'auto' */
  format?: LogFormat
  /**
   * Where lines go. @defaultValue standard error, written asynchronously (a slow reader never
   * blocks the node's event loop; what is buffered is written out when the process exits);
   * standard output stays the daemon's console of plain lines (`ready`, `peer <id> joined`, …)
   */
  destination?: { write(line: string): unknown; isTTY?: boolean }
}

/**
 * A pino logger: JSON lines with an ISO `time`, a `level` name (`info`, `warn`…) and `msg` (readable lines when
 * the format is `pretty`, or `auto` on a terminal). Bind the node's peer id with
 * `logger.child({ peerId })` so every line names the node.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const target = opts.destination ?? process.stderr
  const format = opts.format ?? 'auto'
  const pretty = format === 'pretty' || (format === 'auto' && target.isTTY === true)
  const destination: DestinationStream =
    opts.destination === undefined && !pretty
      ? pino.destination({ dest: 2, sync: false })
      : pretty
        ? prettyDestination(target)
        : { write: (line: string) => void target.write(line) }
  return pino(
    {
      level: opts.level ?? DEFAULT_LOG_LEVEL,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      base: { pid: process.pid },
    },
    destination,
  )
}

/** A logger that writes nothing (the default of a node given none). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}

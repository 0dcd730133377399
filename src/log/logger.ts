import { type DestinationStream, type Logger, pino } from 'pino'
import { prettyDestination } from './pretty.ts'

export type { Logger } from 'pino'

/** Levels a logger may be set to, most verbose first; `silent` logs nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
/** A level of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number]
/** The level a daemon logs at unless `--log-level` or `TASKMESH_LOG_LEVEL` says otherwise. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info'
/** The environment variable that sets the level when no flag does. */
export const LOG_LEVEL_ENV = 'TASKMESH_LOG_LEVEL'

/** How log lines look: JSON (one object a line), readable lines, or JSON unless on a terminal. */
export type LogFormat = 'json' | 'pretty' | 'auto'

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** @defaultValue DEFAULT_LOG_LEVEL */
  level?: LogLevel
  /** @defaultValue 'auto' */
  format?: LogFormat
  /**
   * Where lines go. @defaultValue standard error (synchronous writes: nothing is lost on exit);
   * standard output stays the daemon's console of plain lines (`ready`, `peer <id> joined`, …)
   */
  destination?: { write(line: string): unknown; isTTY?: boolean }
}

/**
 * Checks a log level given by a flag or the environment.
 * @param source - what gave it (`--log-level`, `TASKMESH_LOG_LEVEL`), named in the error.
 * @throws Error naming the source, the value and the levels allowed.
 */
export function parseLogLevel(value: string, source: string): LogLevel {
  const level = value.trim().toLowerCase()
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel
  throw new Error(`${source} "${value}" is not a log level: use one of ${LOG_LEVELS.join(', ')}`)
}

/** The level a flag asks for, else the environment's, else {@link DEFAULT_LOG_LEVEL}. */
export function logLevelOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): LogLevel {
  if (flag !== undefined) return parseLogLevel(flag, '--log-level')
  const fromEnv = env[LOG_LEVEL_ENV]
  if (fromEnv !== undefined && fromEnv !== '') return parseLogLevel(fromEnv, LOG_LEVEL_ENV)
  return DEFAULT_LOG_LEVEL
}

/**
 * A pino logger: JSON lines with an ISO `time`, a numeric `level` and `msg` (readable lines when
 * the format is `pretty`, or `auto` on a terminal). Bind the node's peer id with
 * `logger.child({ peerId })` so every line names the node.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const target = opts.destination ?? process.stderr
  const format = opts.format ?? 'auto'
  const pretty = format === 'pretty' || (format === 'auto' && target.isTTY === true)
  const destination: DestinationStream =
    opts.destination === undefined && !pretty
      ? pino.destination({ dest: 2, sync: true })
      : pretty
        ? prettyDestination(target)
        : { write: (line: string) => void target.write(line) }
  return pino(
    {
      level: opts.level ?? DEFAULT_LOG_LEVEL,
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { pid: process.pid },
    },
    destination,
  )
}

/** A logger that writes nothing (the default of a node given none). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}

/** Levels a logger may be set to, most verbose first; `silent` logs nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
/** A level of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number]
/** The level a daemon logs at unless `--log-level` or `TASKMESH_LOG_LEVEL` says otherwise. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info'
/** The environment variable that sets the level when no flag does. */
export const LOG_LEVEL_ENV = 'TASKMESH_LOG_LEVEL'

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

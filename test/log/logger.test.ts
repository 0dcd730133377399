import { describe, expect, it } from 'vitest'
import { createLogger, type LoggerOptions, logLevelOf, parseLogLevel } from '../../src/log/logger.ts'
import { prettyLine } from '../../src/log/pretty.ts'
import { logTaskEvent, taskLogLine } from '../../src/log/task-log.ts'

const PEER = '12D3KooWHpJ8CiKGHaDm2MJ7bUMqZykeZ2aMqKdkR5E6Uixauc7b'

/** A logger writing into an array of lines. */
function capture(opts: LoggerOptions) {
  const lines: string[] = []
  const logger = createLogger({
    format: 'json',
    ...opts,
    destination: { write: (l: string) => lines.push(l) },
  })
  return { logger, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) }
}

describe('log level', () => {
  it('the flag, else TASKMESH_LOG_LEVEL, else info; a bad value names where it came from', () => {
    expect(logLevelOf(undefined, {})).toBe('info')
    expect(logLevelOf(undefined, { TASKMESH_LOG_LEVEL: 'DEBUG' })).toBe('debug')
    expect(logLevelOf('warn', { TASKMESH_LOG_LEVEL: 'debug' })).toBe('warn')
    expect(() => logLevelOf(undefined, { TASKMESH_LOG_LEVEL: 'loud' })).toThrow(
      'TASKMESH_LOG_LEVEL "loud" is not a log level: use one of trace, debug, info, warn, error, fatal, silent',
    )
    expect(() => parseLogLevel('verbose', '--log-level')).toThrow('--log-level "verbose" is not a log level')
  })
})

describe('createLogger', () => {
  it('writes JSON lines with an ISO time, the level by name, the bound peer id; below the level, nothing', () => {
    const { logger, lines, parsed } = capture({ level: 'warn' })
    const log = logger.child({ peerId: PEER })
    log.info('hidden')
    log.warn({ bootstrap: '/ip4/10.0.0.1/tcp/1' }, 'bootstrap peer unreachable')
    expect(lines).toHaveLength(1)
    const [entry] = parsed()
    expect(entry).toMatchObject({ level: 'warn', peerId: PEER, msg: 'bootstrap peer unreachable' })
    expect(entry.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(lines[0].endsWith('\n')).toBe(true)
  })

  it('pretty: one readable line, the peer id shortened, facts as key=value, the stack below', () => {
    const lines: string[] = []
    const logger = createLogger({ format: 'pretty', destination: { write: (l: string) => lines.push(l) } })
    logger
      .child({ peerId: PEER })
      .warn({ taskId: 'bafk1', error: 'boom here', stack: 'Error: boom\n    at f (x.js:1:1)' }, 'task failed')
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} WARN {2}…Uixauc7b task failed taskId=bafk1 error="boom here"\n {4}Error: boom\n {8}at f/,
    )
  })

  it('auto is readable on a terminal and JSON elsewhere', () => {
    const tty: string[] = []
    createLogger({ destination: { write: (l: string) => tty.push(l), isTTY: true } }).info('hello')
    const pipe: string[] = []
    createLogger({ destination: { write: (l: string) => pipe.push(l) } }).info('hello')
    expect(tty[0]).toMatch(/ INFO {2}hello\n$/)
    expect(JSON.parse(pipe[0])).toMatchObject({ level: 'info', msg: 'hello' })
  })

  it('prettyLine passes a line that is not JSON through', () => {
    expect(prettyLine('plain')).toBe('plain\n')
  })
})

describe('task events in the log', () => {
  it.each([
    ['finished', { status: 'succeeded' }, 'debug', 'task finished'],
    ['finished', { status: 'failed', error: 'boom' }, 'warn', 'task failed'],
    ['finished', { status: 'cancelled' }, 'info', 'task cancelled'],
    ['completed', { outcome: 'stale' }, 'warn', 'stale completion refused: an older lease reported'],
    ['completed', { outcome: 'accepted' }, 'debug', 'task completed'],
    ['retried', { error: 'boom' }, 'info', 'task attempt failed: retrying'],
    ['lease-expired', {}, 'warn', 'lease expired: task requeued'],
    ['adopted', {}, 'info', 'task adopted from a dead owner'],
    ['replayed', {}, 'info', 'journal replay: task requeued'],
    ['accepted', {}, 'debug', 'task accepted'],
  ])('%s %j → %s "%s"', (event, detail, level, msg) => {
    expect(taskLogLine({ taskId: 't', event, at: 0, detail })).toEqual({ level, msg })
  })

  it('logs the event name, the task id and every fact', () => {
    const { logger, parsed } = capture({ level: 'info' })
    logTaskEvent(logger, {
      taskId: 'bafk1',
      event: 'lease-expired',
      at: 0,
      detail: { holder: 'p', epoch: 2 },
    })
    logTaskEvent(logger, { taskId: 'bafk1', event: 'queued', at: 0 }) // debug: not written
    expect(parsed()).toEqual([
      expect.objectContaining({
        level: 'warn',
        taskId: 'bafk1',
        event: 'lease-expired',
        holder: 'p',
        epoch: 2,
      }),
    ])
  })
})

import { appendFileSync } from 'node:fs'

/**
 * The `--handlers` module of chaos daemons: one handler, `recorded`, that logs every run of a task
 * to a file before and after it sleeps.
 *
 * Why a log written by the handler, and not the nodes' stories or records: a result record names
 * only the run that won; `GET /status` counters and `GET /tasks/<id>/story` live in the node's
 * memory, so a daemon killed with SIGKILL takes the story of its runs with it and a restarted one
 * starts an empty story — yet those are exactly the runs a duplicate check must count. The handler
 * appends one line per start with a synchronous write(2), done before the run can produce anything,
 * so a SIGKILL cannot take it back; every run of every life of every node is counted. A node's
 * file is named by {@link EXECUTION_LOG_ENV} (one file per node, kept across its restarts; the
 * process id tells the lives apart).
 */
export const EXECUTION_LOG_ENV = 'TASKMESH_EXECUTION_LOG'

/** The handler type chaos tasks name. */
export const RECORDED_HANDLER = 'recorded'

/** The input of a `recorded` task. */
export interface RecordedInput {
  /** The harness's name for the task. */
  key: string
  /** How long the run sleeps, ms. */
  ms: number
}

/** One line of an execution log. */
export interface LogLine {
  event: 'start' | 'end'
  at: number
  pid: number
  taskId: string
  key: string
}

/** The output a correct run of the task named `key` returns. */
export function recordedOutput(key: string): string {
  return `ran ${key}`
}

function log(line: Omit<LogLine, 'at' | 'pid'>): void {
  const file = process.env[EXECUTION_LOG_ENV]
  if (file === undefined) return
  appendFileSync(file, `${JSON.stringify({ ...line, at: Date.now(), pid: process.pid })}\n`)
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(signal.reason)
      },
      { once: true },
    )
  })
}

export default {
  [RECORDED_HANDLER]: {
    mode: 'inline',
    description: 'sleeps input.ms and returns "ran <input.key>", logging each run (chaos tests)',
    run: async (input: RecordedInput, ctx: { taskId: string; signal: AbortSignal }) => {
      log({ event: 'start', taskId: ctx.taskId, key: input.key })
      try {
        await sleep(input.ms, ctx.signal)
      } finally {
        log({ event: 'end', taskId: ctx.taskId, key: input.key })
      }
      return recordedOutput(input.key)
    },
  },
}

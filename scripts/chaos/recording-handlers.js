import { appendFileSync } from 'node:fs'

/**
 * The `--handlers` module of chaos daemons: one handler, `recorded`, that logs every run of a task
 * to a file before and after it sleeps. Plain JavaScript, as an operator's module is: the daemons
 * run the compiled package, with no TypeScript loader.
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

/**
 * The input of a `recorded` task: `key`, the harness's name for the task, and `ms`, how long the
 * run sleeps.
 * @typedef {{ key: string, ms: number }} RecordedInput
 */

/**
 * One line of an execution log.
 * @typedef {{ event: 'start' | 'end', at: number, pid: number, taskId: string, key: string }} LogLine
 */

/**
 * The output a correct run of the task named `key` returns.
 * @param {string} key
 * @returns {string}
 */
export function recordedOutput(key) {
  return `ran ${key}`
}

/** @param {Omit<LogLine, 'at' | 'pid'>} line */
function log(line) {
  const file = process.env[EXECUTION_LOG_ENV]
  if (file === undefined) return
  appendFileSync(file, `${JSON.stringify({ ...line, at: Date.now(), pid: process.pid })}\n`)
}

/**
 * @param {number} ms
 * @param {AbortSignal} signal
 * @returns {Promise<void>}
 */
function sleep(ms, signal) {
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
    /**
     * @param {RecordedInput} input
     * @param {{ taskId: string, signal: AbortSignal }} ctx
     */
    run: async (input, ctx) => {
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

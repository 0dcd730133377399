/**
 * Entry of a pool worker thread. At start it builds the same registry as the node (built-ins plus
 * the operator modules named in `workerData`); then each job runs one handler and answers with a
 * {@link WorkerReply}. Long jobs are stopped by terminating the thread, so `ctx.signal` never fires.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { parentPort, workerData } from 'node:worker_threads'
import { MAX_STACK_CHARS } from '../protocol/constants.ts'
import { InvalidOutputError } from './errors.ts'
import { describeError, errorStack, isFinalError } from './handler.ts'
import { HandlerRegistry } from './handler-registry.ts'
import { checkJsonOutput } from './json-output.ts'
import type { PoolWorkerData, WorkerEnvelope, WorkerReply, WorkerStartedMessage } from './worker-protocol.ts'

// in a daemon, what handlers print goes to stderr: its stdout carries the daemon's own lines
if (process.env.TASKMESH_HANDLER_OUTPUT === 'stderr') {
  console.log = console.info = console.debug = console.error.bind(console)
}

const registry = await HandlerRegistry.withBuiltins((workerData as PoolWorkerData | undefined)?.modules ?? [])
const neverAborted = new AbortController().signal

/** The job whose handler an error came from (its timers and promises carry it), while it may fail. */
const jobOf = new AsyncLocalStorage<{ taskId: string; fail?: (error: unknown) => void }>()

// (after the registry: a module that fails to load must still end the thread's start)
// A handler's error nobody caught — a timer's throw or rejection — fails its own job while that
// runs: the run went wrong. Left behind by a job that has ended, it is said on stderr with that
// job's task, and the thread runs on: it ends none of the next jobs
const fault = (what: string) => (error: unknown) => {
  const job = jobOf.getStore()
  if (job?.fail !== undefined) return job.fail(error)
  const whose = job === undefined ? "a handler's" : `the handler of task ${job.taskId}, after it ended`
  console.error(`taskmesh worker: ${what} (${whose}): ${describeError(error)}`)
}
process.on('unhandledRejection', fault('a rejected promise nobody handled'))
process.on('uncaughtException', fault('an exception nobody caught'))

/** Runs one job; never throws (a handler's error becomes `{ ok: false }`). */
export default async function runJob(job: WorkerEnvelope): Promise<WorkerReply> {
  parentPort?.postMessage({ taskmeshJobStarted: job.seq } satisfies WorkerStartedMessage)
  const handler = registry.get(job.type)
  const current: { taskId: string; fail?: (error: unknown) => void } = { taskId: job.taskId }
  if (handler === undefined) {
    return { ok: false, error: `unknown handler type "${job.type}"`, unrecoverable: true, unknownType: true }
  }
  try {
    const faulted = new Promise<never>((_, reject) => {
      current.fail = reject
    })
    const run = jobOf.run(current, () =>
      handler.run(job.input, {
        taskId: job.taskId,
        attempt: job.attempt,
        signal: neverAborted,
        dependencies: job.dependencies,
        speed: job.speed,
      }),
    )
    const output = await Promise.race([run, faulted])
    return { ok: true, output: checkJsonOutput(output) }
  } catch (error) {
    if (error instanceof InvalidOutputError) {
      // the same input gives the same output: a retry would fail the same way
      return { ok: false, error: error.message, unrecoverable: true, invalidOutput: true }
    }
    const stack = errorStack(error, MAX_STACK_CHARS)
    return {
      ok: false,
      error: describeError(error),
      ...(stack === undefined ? {} : { stack }),
      unrecoverable: isFinalError(error),
    }
  } finally {
    current.fail = undefined
  }
}

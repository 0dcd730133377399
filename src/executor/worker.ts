/**
 * Entry of a pool worker thread. At start it builds the same registry as the node (built-ins plus
 * the operator modules named in `workerData`); then each job runs one handler and answers with a
 * {@link WorkerReply}. Long jobs are stopped by terminating the thread, so `ctx.signal` never fires.
 */
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

// (after the registry: a module that fails to load must still end the thread's start)
// A handler's error left behind — a timer's rejection or throw after its job ended — is said on
// stderr, and the thread runs on: it ends no job (its own has ended), and none of the next ones
process.on('unhandledRejection', (reason) => {
  console.error(`taskmesh worker: a rejected promise nobody handled (a handler's): ${describeError(reason)}`)
})
process.on('uncaughtException', (error) => {
  console.error(`taskmesh worker: an exception nobody caught (a handler's): ${describeError(error)}`)
})

/** Runs one job; never throws (a handler's error becomes `{ ok: false }`). */
export default async function runJob(job: WorkerEnvelope): Promise<WorkerReply> {
  parentPort?.postMessage({ taskmeshJobStarted: job.seq } satisfies WorkerStartedMessage)
  const handler = registry.get(job.type)
  if (handler === undefined) {
    return { ok: false, error: `unknown handler type "${job.type}"`, unrecoverable: true, unknownType: true }
  }
  try {
    const output = await handler.run(job.input, {
      taskId: job.taskId,
      attempt: job.attempt,
      signal: neverAborted,
      dependencies: job.dependencies,
      speed: job.speed,
    })
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
  }
}

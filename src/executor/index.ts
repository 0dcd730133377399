/** The executor layer: handler registry, built-in handlers, worker pool and the attempt runner. */
export { BUILTIN_HANDLERS, MAX_SHA256_ITERATIONS, MAX_SLEEP_MS } from './builtin-handlers.ts'
export * from './errors.ts'
export { workerExecArgv } from './exec-argv.ts'
export { Executor, type ExecutorOptions } from './executor.ts'
export {
  describeError,
  type HandlerContext,
  type HandlerDefinition,
  type HandlerFn,
  isUnrecoverable,
  type RegisteredHandler,
  UnrecoverableError,
} from './handler.ts'
export { BUILTIN_SOURCE, HandlerRegistry, LOCAL_SOURCE } from './handler-registry.ts'
export { checkJsonOutput, MAX_OUTPUT_DEPTH } from './json-output.ts'
export type { RunOutcome, RunRequest } from './outcome.ts'
export { acquireSharedWorkerPool, type SharedPoolLease } from './shared-pool.ts'
export {
  DEFAULT_IDLE_TIMEOUT_MS,
  WorkerPool,
  type WorkerPoolOptions,
  type WorkerRunHooks,
} from './worker-pool.ts'
export type { WorkerJob } from './worker-protocol.ts'

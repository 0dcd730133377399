import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HandlerTimeoutError, WorkerHandlerError, WorkerPoolClosedError } from '../../src/executor/errors.ts'
import { Executor } from '../../src/executor/executor.ts'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import { WorkerPool } from '../../src/executor/worker-pool.ts'
import type { WorkerJob } from '../../src/executor/worker-protocol.ts'
import { UnknownHandlerError } from '../../src/task/errors.ts'
import { expectedSha256, request } from './helpers.ts'

/** Iterations of the built-in sha256 that take a few hundred ms on one core. */
const SLOW_ITERATIONS = 60_000
/** Iterations no test waits for: only termination ends such a job. */
const ENDLESS_ITERATIONS = 2_000_000_000

function shaJob(iterations: number, data = 'x'): WorkerJob {
  return { type: 'sha256', input: { data, iterations }, taskId: 't', attempt: 1, dependencies: {} }
}

describe('WorkerPool', () => {
  let registry: HandlerRegistry
  /** One thread: a job that was not terminated would keep every later job waiting. */
  let pool: WorkerPool
  let executor: Executor

  beforeAll(async () => {
    registry = await HandlerRegistry.withBuiltins()
    pool = new WorkerPool({ modules: registry.modules, maxThreads: 1 })
    executor = new Executor({ registry, pool })
    await pool.run(shaJob(1)) // warm the thread up
  })

  afterAll(async () => {
    await executor.close()
    await pool.close()
  })

  it('runs a CPU-bound job without blocking the event loop', async () => {
    let ticks = 0
    let running = true
    const tick = () => {
      ticks++
      if (running) setImmediate(tick)
    }
    setImmediate(tick)
    const outcome = await executor.run(
      request('sha256', { data: 'loop', iterations: SLOW_ITERATIONS }, { timeoutMs: 30_000 }),
    )
    running = false
    const ticksDuringWorkerJob = ticks
    expect(outcome.output).toBe(expectedSha256('loop', SLOW_ITERATIONS))
    expect(ticksDuringWorkerJob).toBeGreaterThan(1)

    // Control: the same work run inline freezes the counter completely.
    const inline = new HandlerRegistry().register('sha256-inline', {
      mode: 'inline',
      run: (input) => registry.get('sha256')!.run(input, undefined as never),
    })
    const inlineExecutor = new Executor({ registry: inline })
    ticks = 0
    running = true
    setImmediate(tick)
    const blocking = inlineExecutor.run(
      request('sha256-inline', { data: 'loop', iterations: SLOW_ITERATIONS }, { timeoutMs: 30_000 }),
    )
    const ticksDuringInlineRun = ticks
    running = false
    expect((await blocking).output).toBe(expectedSha256('loop', SLOW_ITERATIONS))
    expect(ticksDuringInlineRun).toBe(0)
  })

  it('times a hogging job out, terminates its thread, and runs the next job', async () => {
    const outcome = await executor.run(
      request('sha256', { data: 'hog', iterations: ENDLESS_ITERATIONS }, { timeoutMs: 50 }),
    )
    expect(outcome).toMatchObject({ status: 'failed', error: 'timed out after 50 ms', timedOut: true })
    expect(outcome.unrecoverable).toBe(false)
    expect(pool.running).toBe(0)
    // With one thread, this only finishes if the hog was terminated.
    const next = await executor.run(request('sha256', { data: 'after', iterations: 10 }))
    expect(next).toMatchObject({ status: 'succeeded', output: expectedSha256('after', 10) })
  })

  it('cancels a running job through its signal, rejecting with the reason', async () => {
    const controller = new AbortController()
    const reason = new Error('node cancelled it')
    const running = pool.run(shaJob(ENDLESS_ITERATIONS), controller.signal, {
      onStart: () => setImmediate(() => controller.abort(reason)),
    })
    await expect(running).rejects.toBe(reason)
    await expect(pool.run(shaJob(3))).resolves.toBe(expectedSha256('x', 3))
  })

  it('cancels through the executor: cancelled, not timed out', async () => {
    const controller = new AbortController()
    const pending = executor.run(
      request('sha256', { iterations: ENDLESS_ITERATIONS }, { signal: controller.signal, timeoutMs: 60_000 }),
    )
    controller.abort()
    const outcome = await pending
    expect(outcome).toMatchObject({ status: 'failed', cancelled: true, timedOut: false, error: 'cancelled' })
  })

  it('queues jobs beyond maxThreads and starts them in order; a queued job can be cancelled', async () => {
    const started: string[] = []
    const first = pool.run(shaJob(SLOW_ITERATIONS / 10, 'a'), undefined, { onStart: () => started.push('a') })
    const controller = new AbortController()
    const dropped = pool.run(shaJob(1, 'b'), controller.signal, { onStart: () => started.push('b') })
    const third = pool.run(shaJob(1, 'c'), undefined, { onStart: () => started.push('c') })
    expect(pool.queueSize).toBe(2)
    expect(pool.utilization).toBe(1)
    controller.abort('not needed')
    await expect(dropped).rejects.toBe('not needed')
    expect(pool.queueSize).toBe(1)
    await expect(first).resolves.toBe(expectedSha256('a', SLOW_ITERATIONS / 10))
    await expect(third).resolves.toBe(expectedSha256('c', 1))
    expect(started).toEqual(['a', 'c'])
    expect(pool.queueSize).toBe(0)
  })

  it('starts the timeout clock when a worker begins the job, not while it queues or a thread boots', async () => {
    const blocker = executor.run(request('sha256', { iterations: ENDLESS_ITERATIONS }, { timeoutMs: 150 }))
    // Waits 150 ms for the thread, then for a fresh thread to boot: longer than its own timeout.
    const queued = executor.run(request('sha256', { data: 'q', iterations: 1 }, { timeoutMs: 100 }))
    expect(pool.queueSize).toBe(1)
    const [first, second] = await Promise.all([blocker, queued])
    expect(first).toMatchObject({ status: 'failed', timedOut: true })
    expect(second).toMatchObject({ status: 'succeeded', output: expectedSha256('q', 1) })
    expect(second.startedAt).toBeGreaterThanOrEqual(first.finishedAt)
  })

  it('does not count the first thread boot against a job timeout', async () => {
    const cold = new WorkerPool({ modules: [], maxThreads: 1 })
    const coldExecutor = new Executor({ registry, pool: cold })
    try {
      const outcome = await coldExecutor.run(
        request('sha256', { data: 'cold', iterations: 1 }, { timeoutMs: 100 }),
      )
      expect(outcome).toMatchObject({ status: 'succeeded', output: expectedSha256('cold', 1) })
    } finally {
      await cold.close()
    }
  })

  it('reports handler errors and unknown types as typed errors', async () => {
    await expect(pool.run({ ...shaJob(1), input: 'not an object' })).rejects.toBeInstanceOf(
      WorkerHandlerError,
    )
    await expect(pool.run({ ...shaJob(1), type: 'nope' })).rejects.toBeInstanceOf(UnknownHandlerError)
  })

  it('closes safely twice and refuses work afterwards', async () => {
    const own = new WorkerPool({ modules: [], maxThreads: 1 })
    const inFlight = expect(own.run(shaJob(ENDLESS_ITERATIONS))).rejects.toBeInstanceOf(WorkerPoolClosedError)
    const waiting = expect(own.run(shaJob(1))).rejects.toBeInstanceOf(WorkerPoolClosedError)
    await Promise.all([own.close(), own.close(), inFlight, waiting])
    await expect(own.run(shaJob(1))).rejects.toBeInstanceOf(WorkerPoolClosedError)
    expect(own.threads).toBe(0)
  })

  it('fails jobs with the cause when worker threads cannot start, instead of leaving them stuck', async () => {
    const broken = new WorkerPool({ modules: ['file:///nonexistent/taskmesh/handlers.mjs'], maxThreads: 1 })
    try {
      await expect(broken.run(shaJob(1))).rejects.toThrow('nonexistent/taskmesh/handlers.mjs')
      await expect(broken.run(shaJob(1))).rejects.toThrow('nonexistent/taskmesh/handlers.mjs')
    } finally {
      await broken.close()
    }
  })

  it('uses the abort reason the executor gives for timeouts', async () => {
    const controller = new AbortController()
    const job = pool.run(shaJob(ENDLESS_ITERATIONS), controller.signal, {
      onStart: () => setImmediate(() => controller.abort(new HandlerTimeoutError(7))),
    })
    await expect(job).rejects.toThrow('timed out after 7 ms')
  })
})

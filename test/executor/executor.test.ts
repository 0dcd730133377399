import { describe, expect, it } from 'vitest'
import {
  HandlerTimeoutError,
  PoolModulesMismatchError,
  TaskCancelledError,
} from '../../src/executor/errors.ts'
import { Executor } from '../../src/executor/executor.ts'
import { UnrecoverableError } from '../../src/executor/handler.ts'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import { WorkerPool } from '../../src/executor/worker-pool.ts'
import type { Json } from '../../src/task/spec.ts'
import { request } from './helpers.ts'

/** An executor over the built-ins plus the given inline handlers (no worker pool is started). */
async function inlineExecutor(handlers: Record<string, (input: Json, ctx: never) => unknown> = {}) {
  const registry = await HandlerRegistry.withBuiltins()
  for (const [type, run] of Object.entries(handlers)) {
    registry.register(type, { mode: 'inline', run: run as never })
  }
  return new Executor({ registry })
}

/** A handler that never settles on its own and records why its signal fired. */
function hanging(seen: unknown[]) {
  return (_input: Json, ctx: { signal: AbortSignal }) =>
    new Promise(() => {
      ctx.signal.addEventListener('abort', () => seen.push(ctx.signal.reason))
    })
}

describe('Executor (inline)', () => {
  it('times out an inline handler, aborting its signal with the timeout', async () => {
    const seen: unknown[] = []
    const executor = await inlineExecutor({ hang: hanging(seen) })
    const outcome = await executor.run(request('hang', null, { timeoutMs: 50 }))
    expect(outcome).toMatchObject({
      status: 'failed',
      error: 'timed out after 50 ms',
      timedOut: true,
      cancelled: false,
      unrecoverable: false,
    })
    expect(seen).toHaveLength(1)
    expect(seen[0]).toBeInstanceOf(HandlerTimeoutError)
  })

  it('times out the built-in sleep and frees it promptly', async () => {
    const executor = await inlineExecutor()
    const outcome = await executor.run(request('sleep', { ms: 60_000 }, { timeoutMs: 20 }))
    expect(outcome).toMatchObject({ status: 'failed', error: 'timed out after 20 ms', timedOut: true })
  })

  it('counts a synchronous handler that blocked past its timeout as timed out', async () => {
    const executor = await inlineExecutor({
      block: () => {
        const until = Date.now() + 15
        while (Date.now() <= until) {
          // burn
        }
        return 'late'
      },
    })
    const outcome = await executor.run(request('block', null, { timeoutMs: 5 }))
    expect(outcome).toMatchObject({ status: 'failed', error: 'timed out after 5 ms', timedOut: true })
  })

  it('counts an async handler that blocked the loop past its timeout as timed out', async () => {
    const burn = (ms: number) => {
      const until = Date.now() + ms
      while (Date.now() <= until) {
        // burn
      }
    }
    const executor = await inlineExecutor({
      // blocks before its first await: the timer is set only once it returns
      'block-first': async () => {
        burn(15)
        return 'late'
      },
      // blocks after an await: the timer cannot fire while the loop is held
      'block-later': async () => {
        await Promise.resolve()
        burn(15)
        return 'late'
      },
    })
    for (const type of ['block-first', 'block-later']) {
      const outcome = await executor.run(request(type, null, { timeoutMs: 5 }))
      expect(outcome, type).toMatchObject({ status: 'failed', error: 'timed out after 5 ms', timedOut: true })
    }
  })

  it('cancels through the node signal, passing the reason on', async () => {
    const seen: unknown[] = []
    const executor = await inlineExecutor({ hang: hanging(seen) })
    const controller = new AbortController()
    const pending = executor.run(request('hang', null, { signal: controller.signal, timeoutMs: 60_000 }))
    controller.abort('node shutting down')
    const outcome = await pending
    expect(outcome).toMatchObject({
      status: 'failed',
      error: 'cancelled: node shutting down',
      cancelled: true,
      timedOut: false,
    })
    expect(seen[0]).toBeInstanceOf(TaskCancelledError)
  })

  it('does not start a task whose signal already fired', async () => {
    let calls = 0
    const executor = await inlineExecutor({ count: () => ++calls })
    const outcome = await executor.run(request('count', null, { signal: AbortSignal.abort() }))
    expect(outcome).toMatchObject({ status: 'failed', cancelled: true, error: 'cancelled' })
    expect(calls).toBe(0)
  })

  it('marks UnrecoverableError (or a lookalike) unrecoverable and keeps its name', async () => {
    const executor = await inlineExecutor({
      typed: () => {
        throw new UnrecoverableError('bad input')
      },
      duck: async () => {
        throw Object.assign(new Error('plain module error'), { name: 'UnrecoverableError' })
      },
      retryable: async () => {
        throw Object.assign(new Error('flaky'), { name: 'NetworkError' })
      },
    })
    expect(await executor.run(request('typed'))).toMatchObject({
      error: 'UnrecoverableError: bad input',
      unrecoverable: true,
    })
    expect(await executor.run(request('duck'))).toMatchObject({
      error: 'UnrecoverableError: plain module error',
      unrecoverable: true,
    })
    // a named error of the world, not of the code, is retried (programming errors are not: failures.test.ts)
    expect(await executor.run(request('retryable'))).toMatchObject({
      error: 'NetworkError: flaky',
      unrecoverable: false,
    })
  })

  it('fails an unknown type unrecoverably', async () => {
    const executor = await inlineExecutor()
    const outcome = await executor.run(request('x'))
    expect(outcome).toMatchObject({
      status: 'failed',
      error: 'unknown handler type "x"',
      unrecoverable: true,
    })
  })

  it('fails a non-JSON output with a message naming where it is', async () => {
    const executor = await inlineExecutor({
      fn: () => ({ items: [1, () => 2] }),
      date: async () => ({ when: new Date(0) }),
      nan: () => Number.NaN,
    })
    const fn = await executor.run(request('fn'))
    // the same input gives the same output again: not retried
    expect(fn).toMatchObject({ status: 'failed', unrecoverable: true })
    expect(fn.error).toBe('handler output is not JSON: output.items[1] is a function')
    expect((await executor.run(request('date'))).error).toBe(
      'handler output is not JSON: output.when is a Date',
    )
    expect((await executor.run(request('nan'))).error).toBe('handler output is not JSON: output is NaN')
  })

  it('hands dependencies, task id and attempt to the handler, and times the attempt', async () => {
    const executor = await inlineExecutor({
      ctx: (_input, ctx: { taskId: string; attempt: number; dependencies: Record<string, Json> }) => ({
        taskId: ctx.taskId,
        attempt: ctx.attempt,
        dependencies: ctx.dependencies,
      }),
    })
    const before = Date.now()
    const outcome = await executor.run(
      request('ctx', null, { taskId: 'abc', attempt: 3, dependencies: { dep1: { v: 1 } } }),
    )
    expect(outcome.output).toEqual({ taskId: 'abc', attempt: 3, dependencies: { dep1: { v: 1 } } })
    expect(outcome.startedAt).toBeGreaterThanOrEqual(before)
    expect(outcome.finishedAt).toBeGreaterThanOrEqual(outcome.startedAt)
    const none = await executor.run(request('ctx'))
    expect((none.output as { dependencies: Json }).dependencies).toEqual({})
  })

  it('refuses runs after close', async () => {
    const executor = await inlineExecutor()
    await executor.close()
    await executor.close()
    expect(await executor.run(request('noop'))).toMatchObject({
      status: 'failed',
      error: 'executor is closed',
    })
  })

  it('refuses a pool that does not load the registry modules', async () => {
    const registry = await HandlerRegistry.withBuiltins()
    Object.defineProperty(registry, 'modules', { value: ['file:///elsewhere/handlers.js'] })
    const pool = new WorkerPool({ modules: [], maxThreads: 1 })
    try {
      expect(() => new Executor({ registry, pool })).toThrow(PoolModulesMismatchError)
    } finally {
      await pool.close()
    }
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BUILTIN_HANDLERS } from '../../src/executor/builtin-handlers.ts'
import { Executor } from '../../src/executor/executor.ts'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import { WorkerPool } from '../../src/executor/worker-pool.ts'
import type { Json } from '../../src/task/spec.ts'
import { expectedSha256, request } from './helpers.ts'

describe('built-in handlers', () => {
  let pool: WorkerPool
  let executor: Executor

  beforeAll(async () => {
    const registry = await HandlerRegistry.withBuiltins()
    pool = new WorkerPool({ modules: registry.modules, maxThreads: 1 })
    executor = new Executor({ registry, pool })
  })

  afterAll(async () => {
    await executor.close()
    await pool.close()
  })

  it('declares the documented modes', () => {
    const modes = Object.fromEntries(Object.entries(BUILTIN_HANDLERS).map(([type, def]) => [type, def.mode]))
    expect(modes).toEqual({
      echo: 'inline',
      sleep: 'inline',
      sha256: 'worker',
      fail: 'inline',
      noop: 'inline',
    })
  })

  it('echo returns its input', async () => {
    const input = { a: [1, 'two', { three: true }], b: null }
    const outcome = await executor.run(request('echo', input))
    expect(outcome).toMatchObject({ status: 'succeeded', output: input, unrecoverable: false })
  })

  it('noop returns null', async () => {
    const outcome = await executor.run(request('noop', { ignored: 1 }))
    expect(outcome.status).toBe('succeeded')
    expect(outcome.output).toBeNull()
  })

  it('sleep resolves with its output, given an object or a bare number', async () => {
    const withOutput = await executor.run(request('sleep', { ms: 5, output: { done: 'yes' } }))
    expect(withOutput).toMatchObject({ status: 'succeeded', output: { done: 'yes' } })
    const bare = await executor.run(request('sleep', 1))
    expect(bare).toMatchObject({ status: 'succeeded', output: null })
  })

  it('sleep rejects promptly when aborted', async () => {
    const controller = new AbortController()
    const reason = new Error('stop now')
    const pending = BUILTIN_HANDLERS.sleep.run(
      { ms: 60_000 },
      { taskId: 't', attempt: 1, signal: controller.signal, dependencies: {} },
    )
    controller.abort(reason)
    await expect(pending).rejects.toBe(reason)
  })

  it('sleep hears of a cancel through onCancel, where the context has it, without reading signal', async () => {
    const listeners: Array<(reason: unknown) => void> = []
    let removed = 0
    const ctx = {
      taskId: 't',
      attempt: 1,
      dependencies: {},
      get signal(): AbortSignal {
        throw new Error('read the signal')
      },
      onCancel(listener: (reason: unknown) => void) {
        listeners.push(listener)
        return () => removed++
      },
    }
    const reason = new Error('cancelled')
    const pending = BUILTIN_HANDLERS.sleep.run({ ms: 60_000 }, ctx)
    expect(listeners).toHaveLength(1)
    listeners[0](reason)
    await expect(pending).rejects.toBe(reason)
    // a sleep that ends on its own removes its listener
    await expect(BUILTIN_HANDLERS.sleep.run({ ms: 1, output: 'done' }, ctx)).resolves.toBe('done')
    expect(removed).toBe(1)
  })

  it('sleep refuses a malformed input unrecoverably', async () => {
    const outcome = await executor.run(request('sleep', { ms: 'soon' }))
    expect(outcome).toMatchObject({ status: 'failed', unrecoverable: true })
    expect(outcome.error).toMatch(/^UnrecoverableError: sleep: input must be/)
  })

  it('sha256 hashes iteratively in a worker and returns hex', async () => {
    const outcome = await executor.run(request('sha256', { data: 'taskmesh', iterations: 1000 }))
    expect(outcome).toMatchObject({ status: 'succeeded', output: expectedSha256('taskmesh', 1000) })
    const once = await executor.run(request('sha256', { iterations: 1 }))
    expect(once.output).toBe(expectedSha256('', 1))
  })

  it('sha256 refuses a bad iteration count unrecoverably (the error crosses the thread)', async () => {
    const outcome = await executor.run(request('sha256', { data: 'x', iterations: 0 }))
    expect(outcome).toMatchObject({ status: 'failed', unrecoverable: true })
    expect(outcome.error).toContain('UnrecoverableError: sha256: input.iterations must be an integer')
  })

  it('sleep and sha256 tell what is wrong with an input before any run (checkInput)', () => {
    const { sleep, sha256 } = BUILTIN_HANDLERS
    for (const ok of [{ ms: 0 }, { ms: 5, output: 'x' }, 10] as Json[])
      expect(sleep.checkInput?.(ok)).toBeUndefined()
    for (const bad of [{ ms: -5 }, { ms: 'abc' }, { ms: Number.MAX_SAFE_INTEGER }, null, 'soon']) {
      expect(sleep.checkInput?.(bad)).toMatch(/^sleep: input must be \{ ms: number in \[0, 86400000\] \}/)
    }
    expect(sha256.checkInput?.({ data: 'x', iterations: 3 })).toBeUndefined()
    expect(sha256.checkInput?.({ nope: 1 })).toBe(
      'sha256: input.iterations must be an integer in [1, 4000000000]',
    )
    expect(sha256.checkInput?.({ data: 5, iterations: 1 })).toBe('sha256: input.data must be a string')
  })

  it('fail throws a plain Error, or an UnrecoverableError when asked', async () => {
    const plain = await executor.run(request('fail', { message: 'boom' }))
    expect(plain).toMatchObject({ status: 'failed', error: 'boom', unrecoverable: false })
    const fatal = await executor.run(request('fail', { message: 'fatal', unrecoverable: true }))
    expect(fatal).toMatchObject({ status: 'failed', error: 'UnrecoverableError: fatal', unrecoverable: true })
    const bare = await executor.run(request('fail'))
    expect(bare.error).toBe('failed on purpose')
  })
})

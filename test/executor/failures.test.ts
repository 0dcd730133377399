import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Executor } from '../../src/executor/executor.ts'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import { WorkerPool } from '../../src/executor/worker-pool.ts'
import { MAX_STACK_CHARS } from '../../src/protocol/constants.ts'
import { request, tempModules } from './helpers.ts'

/** Handlers that fail in the ways an attempt can: each is loaded inline and in the worker pool. */
const MODULE = `
function deepInside() { throw new Error('flaky network') }
export default {
  transient: () => deepInside(),
  typo: (input) => input.missing.field,
  'not-json': () => ({ when: 10n }),
  recursion: () => { const f = (n) => f(n + 1) + 1; return f(0) },
  huge: () => { const e = new Error('long'); e.stack = 'x'.repeat(${MAX_STACK_CHARS} * 4); throw e },
}
`

describe('a failed attempt keeps its stack; a deterministic error is not retried', () => {
  const modules = { path: '' }
  let cleanup: () => Promise<void>
  let pool: WorkerPool
  const executors: Record<'inline' | 'worker', Executor> = {} as never

  beforeAll(async () => {
    const temp = await tempModules()
    cleanup = temp.cleanup
    modules.path = await temp.write('failing.mjs', MODULE)
    const worker = await HandlerRegistry.withBuiltins([modules.path])
    pool = new WorkerPool({ modules: worker.modules, maxThreads: 1 })
    executors.worker = new Executor({ registry: worker, pool })
    const inline = await HandlerRegistry.withBuiltins()
    const loaded = await import(modules.path)
    for (const [type, run] of Object.entries(loaded.default))
      inline.register(type, { mode: 'inline', run: run as never })
    executors.inline = new Executor({ registry: inline })
  })

  afterAll(async () => {
    await pool.close()
    await cleanup()
  })

  for (const mode of ['inline', 'worker'] as const) {
    it(`${mode}: a plain error is retried and carries the handler's stack`, async () => {
      const outcome = await executors[mode].run(request('transient'))
      expect(outcome).toMatchObject({ status: 'failed', error: 'flaky network', unrecoverable: false })
      expect(outcome.stack).toContain('deepInside')
    })

    it(`${mode}: a TypeError, a RangeError and output that is not JSON fail without retries`, async () => {
      const typo = await executors[mode].run(request('typo', {}))
      expect(typo).toMatchObject({ status: 'failed', unrecoverable: true })
      expect(typo.error).toMatch(/^TypeError: /)
      expect(typo.stack).toContain('TypeError')
      const recursion = await executors[mode].run(request('recursion'))
      expect(recursion).toMatchObject({ status: 'failed', unrecoverable: true })
      expect(recursion.error).toMatch(/^RangeError: /)
      const notJson = await executors[mode].run(request('not-json'))
      expect(notJson).toMatchObject({ status: 'failed', unrecoverable: true })
      expect(notJson.error).toMatch(/not JSON|bigint/i)
    })

    it(`${mode}: a huge stack is cut to ${MAX_STACK_CHARS} characters`, async () => {
      const outcome = await executors[mode].run(request('huge'))
      expect(outcome.stack?.length).toBe(MAX_STACK_CHARS)
      expect(outcome.unrecoverable).toBe(false)
    })
  }
})

import { threadId } from 'node:worker_threads'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DuplicateHandlerError,
  HandlerModuleError,
  InvalidHandlerError,
  WorkerPoolClosedError,
} from '../../src/executor/errors.ts'
import { Executor } from '../../src/executor/executor.ts'
import { HANDLER_NAME_PATTERN } from '../../src/executor/handler-name.ts'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import { acquireSharedWorkerPool } from '../../src/executor/shared-pool.ts'
import { NAME_PATTERN } from '../../src/task/spec.ts'
import { request, tempModules } from './helpers.ts'

const OPERATOR_MODULE = `
import { threadId } from 'node:worker_threads'
export default {
  'op/square': (input) => ({ square: input * input, threadId }),
  'op-inline': {
    mode: 'inline',
    description: 'reports where it ran',
    run: async (input, ctx) => ({ threadId, deps: ctx.dependencies, aborted: ctx.signal.aborted }),
  },
  'op-fatal': () => {
    const error = new Error('cannot ever work')
    error.name = 'UnrecoverableError'
    throw error
  },
}
`

describe('operator handler modules', () => {
  let modules: Awaited<ReturnType<typeof tempModules>>
  let file: string

  beforeAll(async () => {
    modules = await tempModules()
    file = await modules.write('handlers.js', OPERATOR_MODULE)
  })

  afterAll(() => modules.cleanup())

  it('registers a module: bare functions as worker mode, objects as declared', async () => {
    const registry = await HandlerRegistry.withBuiltins([file])
    expect(registry.types()).toEqual([
      'echo',
      'fail',
      'noop',
      'op-fatal',
      'op-inline',
      'op/square',
      'sha256',
      'sleep',
    ])
    expect(registry.get('op/square')?.mode).toBe('worker')
    expect(registry.get('op-inline')).toMatchObject({ mode: 'inline', description: 'reports where it ran' })
    expect(registry.modules).toEqual([`file://${file}`])
  })

  it('runs the worker handler off the main thread and the inline one on it', async () => {
    const registry = await HandlerRegistry.withBuiltins([file])
    const lease = acquireSharedWorkerPool({ modules: registry.modules, maxThreads: 1 })
    const executor = new Executor({ registry, pool: lease.pool })
    try {
      const square = await executor.run(request('op/square', 7))
      expect(square).toMatchObject({ status: 'succeeded', error: undefined })
      expect((square.output as { square: number }).square).toBe(49)
      expect((square.output as { threadId: number }).threadId).not.toBe(threadId)

      const inline = await executor.run(request('op-inline', null, { dependencies: { a: 1 } }))
      expect(inline.output).toEqual({ threadId, deps: { a: 1 }, aborted: false })

      const fatal = await executor.run(request('op-fatal'))
      expect(fatal).toMatchObject({ error: 'UnrecoverableError: cannot ever work', unrecoverable: true })
    } finally {
      await executor.close()
      await lease.release()
    }
  })

  it('shares one pool per module set until the last lease is released', async () => {
    const a = acquireSharedWorkerPool({ modules: ['file:///not/started.js'] })
    const b = acquireSharedWorkerPool({ modules: ['file:///not/started.js'] })
    const other = acquireSharedWorkerPool({ modules: [] })
    expect(a.pool).toBe(b.pool)
    expect(other.pool).not.toBe(a.pool)
    await a.release()
    await a.release()
    await other.release()
    const job = { type: 'noop', input: null, taskId: 't', attempt: 1, dependencies: {} }
    await expect(other.pool.run(job)).rejects.toBeInstanceOf(WorkerPoolClosedError)
    expect(b.pool.queueSize).toBe(0)
    await b.release()
    await expect(b.pool.run(job)).rejects.toBeInstanceOf(WorkerPoolClosedError)
  })

  it('loads a CommonJS module too (module.exports = { … })', async () => {
    const cjs = await modules.write(
      'handlers.cjs',
      `module.exports = { 'cjs-double': { mode: 'inline', run: (x) => x * 2 } }`,
    )
    const registry = await HandlerRegistry.withBuiltins([cjs])
    const executor = new Executor({ registry })
    expect(await executor.run(request('cjs-double', 21))).toMatchObject({ status: 'succeeded', output: 42 })
  })

  it('refuses a module with a bad export, naming the file and the export, and registers nothing', async () => {
    const bad = await modules.write('bad.js', `export default { good: () => 1, broken: 42 }`)
    const registry = await HandlerRegistry.withBuiltins()
    const loading = registry.load(bad)
    await expect(loading).rejects.toBeInstanceOf(HandlerModuleError)
    await expect(loading).rejects.toThrow(
      `${bad}: export "broken" must be a function or { run: function }, got number 42`,
    )
    expect(registry.has('good')).toBe(false)
    expect(registry.modules).toEqual([])
  })

  it('refuses modules without a handler map, with bad names, or that fail to import', async () => {
    const none = await modules.write('none.js', `export const echo = () => 1`)
    const badName = await modules.write('name.js', `export default { 'Bad Name': () => 1 }`)
    const badMode = await modules.write('mode.js', `export default { ok: { run: () => 1, mode: 'gpu' } }`)
    const throws = await modules.write('throws.js', `throw new Error('module blew up')`)
    const registry = new HandlerRegistry()
    await expect(registry.load(none)).rejects.toThrow(`${none}: default export must be an object`)
    await expect(registry.load(badName)).rejects.toThrow('export "Bad Name": handler type must match')
    await expect(registry.load(badMode)).rejects.toThrow(
      'export "ok".mode must be "inline" or "worker", got "gpu"',
    )
    await expect(registry.load(throws)).rejects.toThrow(`${throws}: cannot be imported: module blew up`)
    await expect(registry.load('/no/such/handlers.js')).rejects.toBeInstanceOf(HandlerModuleError)
    // a missing module is said to be missing, not explained by Node's importer path
    await expect(registry.load('/no/such/handlers.js')).rejects.toThrow(
      '/no/such/handlers.js: cannot be imported: no such file: /no/such/handlers.js',
    )
    // a module that imports a missing one keeps Node's message, which names that one
    const broken = await modules.write('broken.js', `import './gone.js'\nexport default { ok: () => 1 }`)
    await expect(registry.load(broken)).rejects.toThrow(/cannot be imported: Cannot find module .*gone\.js/)
  })

  it('refuses a module whose types clash with registered ones', async () => {
    const clash = await modules.write('clash.js', `export default { echo: () => 'mine' }`)
    const registry = await HandlerRegistry.withBuiltins()
    await expect(registry.load(clash)).rejects.toThrow(
      `${clash}: export "echo": handler type "echo" is already registered`,
    )
  })
})

describe('HandlerRegistry.register', () => {
  it('registers inline handlers and refuses duplicates, bad names and worker mode', () => {
    const registry = new HandlerRegistry().register('mine', { run: () => 1 })
    expect(registry.get('mine')?.mode).toBe('inline')
    expect(() => registry.register('mine', { run: () => 2 })).toThrow(DuplicateHandlerError)
    expect(() => registry.register('Nope!', { run: () => 2 })).toThrow(InvalidHandlerError)
    expect(() => registry.register('cpu', { run: () => 2, mode: 'worker' })).toThrow(
      /worker-mode handlers must be loaded from a module/,
    )
    expect(registry.has('cpu')).toBe(false)
    expect(registry.types()).toEqual(['mine'])
  })

  it("keeps a handler's input check, and refuses one that is not a function", () => {
    const checkInput = (input: unknown) => (input === 1 ? undefined : 'mine: input must be 1')
    const registry = new HandlerRegistry().register('mine', { run: () => 1, checkInput })
    expect(registry.get('mine')?.checkInput?.(2)).toBe('mine: input must be 1')
    expect(registry.get('mine')?.checkInput?.(1)).toBeUndefined()
    expect(() => registry.register('other', { run: () => 1, checkInput: 'no' as never })).toThrow(
      /checkInput must be a function/,
    )
    expect(registry.has('other')).toBe(false)
  })

  it('uses the same name rule as task specs', () => {
    expect(HANDLER_NAME_PATTERN.source).toBe(NAME_PATTERN.source)
    expect(HANDLER_NAME_PATTERN.flags).toBe(NAME_PATTERN.flags)
  })
})

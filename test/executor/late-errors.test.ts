import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Executor } from '../../src/executor/executor.ts'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import { WorkerPool } from '../../src/executor/worker-pool.ts'
import { request, tempModules } from './helpers.ts'

/** Worker handlers that leave an error behind them, and one that waits while it fires. */
const MODULE = `
export default {
  'late-throw': async () => { setTimeout(() => { throw new Error('late throw') }, 20); return 'ok' },
  'late-reject': async () => { setTimeout(() => Promise.reject(new Error('late rejection')), 20); return 'ok' },
  'waits': async () => { await new Promise((resolve) => setTimeout(resolve, 150)); return 'done' },
  'throws-during': async () => {
    setTimeout(() => { throw new Error('thrown by its timer') }, 10)
    await new Promise((resolve) => setTimeout(resolve, 300))
    return 'ok'
  },
  'rejects-during': async () => {
    setTimeout(() => Promise.reject(new Error('rejected by its timer')), 10)
    await new Promise((resolve) => setTimeout(resolve, 300))
    return 'ok'
  },
}
`

/**
 * A worker handler's error thrown by a timer after its job ended surfaces while the thread runs a
 * later job (an idle thread's loop is paused). It ended the thread then, failing that innocent job
 * ("worker exited"); it is now said on stderr and the job finishes.
 */
describe("a worker handler's late errors", () => {
  let cleanup: () => Promise<void>
  let pool: WorkerPool
  let executor: Executor

  beforeAll(async () => {
    const temp = await tempModules()
    cleanup = temp.cleanup
    const registry = await HandlerRegistry.withBuiltins([await temp.write('late.mjs', MODULE)])
    pool = new WorkerPool({ modules: registry.modules, maxThreads: 1 })
    executor = new Executor({ registry, pool })
  })

  afterAll(async () => {
    await executor.close()
    await pool.close()
    await cleanup()
  })

  for (const type of ['late-throw', 'late-reject']) {
    it(`${type}: the next job on the thread is not ended by it`, async () => {
      expect(await executor.run(request(type, null))).toMatchObject({ status: 'succeeded', output: 'ok' })
      // one thread: this job runs where the error is left, and waits while it fires
      expect(await executor.run(request('waits', null))).toMatchObject({
        status: 'succeeded',
        output: 'done',
      })
    })
  }

  for (const [type, message] of [
    ['throws-during', 'thrown by its timer'],
    ['rejects-during', 'rejected by its timer'],
  ]) {
    it(`${type}: an error its timer leaves while the job runs fails that job, and only it`, async () => {
      const outcome = await executor.run(request(type, null))
      expect(outcome.status).toBe('failed')
      expect(outcome.error).toContain(message)
      expect(await executor.run(request('waits', null))).toMatchObject({
        status: 'succeeded',
        output: 'done',
      })
    })
  }
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Executor } from '../../src/executor/executor.ts'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import { WorkerPool } from '../../src/executor/worker-pool.ts'
import { request, tempModules } from './helpers.ts'

/**
 * A handler module keeps work of its own going in its thread between jobs — a client's keep-alive,
 * a cache refreshed on a timer. Its timers must run while the thread waits for the next job: a
 * thread that blocks while idle would freeze them (a pooled connection then times out at its server).
 */
const TICKING_MODULE = `
let ticks = 0
setInterval(() => { ticks++ }, 10)
export default { 'tick/count': () => ticks }
`

/** How long the pool stays idle between the two jobs, ms: the scenario, not a wait for an event. */
const IDLE_MS = 400

describe('an idle worker thread', () => {
  let modules: Awaited<ReturnType<typeof tempModules>>
  let pool: WorkerPool
  let executor: Executor

  beforeAll(async () => {
    modules = await tempModules()
    const file = await modules.write('ticking.js', TICKING_MODULE)
    const registry = await HandlerRegistry.withBuiltins([file])
    pool = new WorkerPool({ modules: registry.modules, maxThreads: 1 })
    executor = new Executor({ registry, pool })
  })

  afterAll(async () => {
    await executor.close()
    await pool.close()
    await modules.cleanup()
  })

  it("runs its handler module's timers between jobs", async () => {
    const first = await executor.run(request('tick/count'))
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS))
    const second = await executor.run(request('tick/count'))
    expect(first.status).toBe('succeeded')
    // 40 ticks of 10 ms in 400 ms; a quarter of them is plenty on a loaded machine
    expect((second.output as number) - (first.output as number)).toBeGreaterThan(IDLE_MS / 10 / 4)
  })
})

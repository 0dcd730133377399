import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidHandlerError } from '../../src/executor/errors.ts'
import { Executor } from '../../src/executor/executor.ts'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import { acquireSharedWorkerPool } from '../../src/executor/shared-pool.ts'
import { request, tempModules } from './helpers.ts'

const README = fileURLToPath(new URL('../../README.md', import.meta.url))

/** The README's handlers module: the fenced `js` block that starts with `// handlers.mjs`. */
async function readmeModule(): Promise<string> {
  const text = await readFile(README, 'utf8')
  const block = /```js\n(\/\/ handlers\.mjs\n[\s\S]*?)```/.exec(text)
  if (block === null) throw new Error('README.md has no ```js block starting with // handlers.mjs')
  return block[1]
}

describe("the README's handlers", () => {
  let modules: Awaited<ReturnType<typeof tempModules>>
  let server: Server
  let url: string

  beforeAll(async () => {
    modules = await tempModules()
    server = createServer((_req, res) => {
      res.writeHead(204)
      res.end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  })

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    await modules.cleanup()
  })

  it('the module, exactly as written, loads and both of its handlers run', async () => {
    const file = await modules.write('handlers.mjs', await readmeModule())
    const registry = await HandlerRegistry.withBuiltins([file])
    expect(registry.get('resize')?.mode).toBe('worker')
    expect(registry.get('fetch-status')?.mode).toBe('inline')
    const lease = acquireSharedWorkerPool({ modules: registry.modules, maxThreads: 1 })
    const executor = new Executor({ registry, pool: lease.pool })
    try {
      const resized = await executor.run(request('resize', { width: 640 }, { timeoutMs: 20_000 }))
      expect(resized).toMatchObject({ status: 'succeeded', output: { width: 320 } })
      const status = await executor.run(request('fetch-status', { url }, { timeoutMs: 20_000 }))
      expect(status).toMatchObject({ status: 'succeeded', output: 204 })
    } finally {
      await executor.close()
      await lease.release()
    }
  })

  it("register('double', fn) takes a bare function, inline", async () => {
    const registry = new HandlerRegistry().register('double', (n) => (n as number) * 2)
    expect(registry.get('double')).toMatchObject({ mode: 'inline', source: 'local' })
    const executor = new Executor({ registry })
    expect(await executor.run(request('double', 21))).toMatchObject({ status: 'succeeded', output: 42 })
    expect(() => registry.register('fetchStatus', () => 1)).toThrow(InvalidHandlerError)
    expect(() => registry.register('fetchStatus', () => 1)).toThrow(/fetchStatus.*must match/)
  })
})

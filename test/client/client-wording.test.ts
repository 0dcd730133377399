import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { openTarget } from '../../src/cli/tasks/target.ts'
import { HttpClient } from '../../src/client/http-client.ts'
import { HttpTransport } from '../../src/client/http-transport.ts'
import { HttpApi } from '../../src/http/http-api.ts'
import type { FrontDoor } from '../../src/node/front-door.ts'

describe("a daemon's 401 to a client with no token", () => {
  let api: HttpApi
  let url: string

  beforeAll(async () => {
    api = new HttpApi({} as FrontDoor, { pollMs: 200 })
    url = await api.listen(0)
  })
  afterAll(() => api.close())

  it('tells a library user to give the token option', async () => {
    const client = new HttpClient(url)
    const refused = await client.status().catch((err: unknown) => err)
    await client.close()
    expect(refused).toMatchObject({ code: 'ERR_UNAUTHORIZED' })
    expect((refused as Error).message).toBe(
      `the daemon at ${url} wants its API token: give the token option (the token in the daemon's api.json)`,
    )
  })

  it('tells a command line user to pass --api-token', async () => {
    vi.stubEnv('TASKMESH_API_TOKEN', undefined)
    try {
      const client = await openTarget({ api: url })
      const refused = await client.status().catch((err: unknown) => err)
      await client.close()
      expect((refused as Error).message).toContain(
        'wants its API token: pass --api-token (or set TASKMESH_API_TOKEN) with the token from its api.json',
      )
    } finally {
      vi.unstubAllEnvs()
    }
  })
})

describe('requests sharing one signal', () => {
  const COUNT = 50
  let server: Server
  let base: URL
  /** Answers held until {@link COUNT} requests are in: they are all out at once. */
  const held: Array<() => void> = []
  let answer = true
  /** Called once {@link COUNT} requests are in. */
  let allIn: (() => void) | undefined

  beforeAll(async () => {
    server = createServer((_req, res) => {
      held.push(() => res.end('{}'))
      if (held.length < COUNT) return
      allIn?.()
      if (answer) for (const end of held.splice(0)) end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  /** Runs `body`, collecting the process warnings emitted meanwhile. */
  async function warningsOf(body: () => Promise<void>): Promise<string[]> {
    const seen: string[] = []
    const listener = (w: Error) => seen.push(`${w.name}: ${w.message}`)
    process.on('warning', listener)
    try {
      await body()
      await new Promise((resolve) => setImmediate(resolve)) // warnings are emitted on a later tick
    } finally {
      process.off('warning', listener)
    }
    return seen
  }

  it(`${COUNT} concurrent requests on one signal: no MaxListenersExceededWarning`, async () => {
    const transport = new HttpTransport(base)
    const signal = new AbortController().signal
    const warnings = await warningsOf(async () => {
      const replies = await Promise.all(
        Array.from({ length: COUNT }, (_, i) => transport.request('GET', `/${i}`, { signal })),
      )
      expect(replies.every((r) => r.status === 200)).toBe(true)
    })
    transport.close()
    expect(warnings.filter((w) => w.includes('MaxListenersExceeded'))).toEqual([])
  })

  it(`${COUNT} concurrent requests end with the signal's reason when it aborts`, async () => {
    answer = false
    held.length = 0
    const transport = new HttpTransport(base)
    const stop = new AbortController()
    const arrived = new Promise<void>((resolve) => {
      allIn = resolve
    })
    const warnings = await warningsOf(async () => {
      const reqs = Array.from({ length: COUNT }, (_, i) =>
        transport.request('GET', `/${i}`, { signal: stop.signal }).catch((err: unknown) => err),
      )
      await arrived
      const reason = new Error('no longer wanted')
      stop.abort(reason)
      expect(new Set(await Promise.all(reqs))).toEqual(new Set([reason]))
    })
    transport.close()
    answer = true
    held.length = 0
    expect(warnings.filter((w) => w.includes('MaxListenersExceeded'))).toEqual([])
  })
})

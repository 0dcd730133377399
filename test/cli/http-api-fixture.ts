import { afterAll, beforeAll, expect } from 'vitest'
import { HttpApi } from '../../src/http/http-api.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'

/** What an API call answered: status, headers and the parsed JSON body. */
export interface ApiAnswer {
  status: number
  headers: Headers
  body: unknown
}

/** A lone 2-slot node behind its HTTP API, for the tests of one file (see {@link useApi}). */
export interface ApiFixture {
  readonly node: TaskmeshNode
  readonly api: HttpApi
  /** The API's base URL, `http://127.0.0.1:<port>`. */
  readonly base: string
  /** A request with the operator's token (and a JSON content type for `POST`). */
  call(method: string, path: string, body?: string): Promise<ApiAnswer>
  /** `POST /tasks` with `body` (a string as given, anything else as JSON). */
  post(body: unknown): Promise<ApiAnswer>
  /** Asserts a refusal changed nothing: no task was accepted or queued. */
  expectNothingQueued(acceptedBefore: number): Promise<void>
  /** Tasks the node has accepted so far. */
  accepted(): number
}

/** Starts a node and its API before the file's tests (`pollMs`: a poll's deadline) and stops them after. */
export function useApi(pollMs: number): ApiFixture {
  let node: TaskmeshNode | undefined
  let api: HttpApi | undefined
  let base = ''
  beforeAll(async () => {
    node = await TaskmeshNode.create({ slots: 2 })
    api = new HttpApi(node, { pollMs })
    base = await api.listen(0)
  })
  afterAll(async () => {
    await api?.close()
    await node?.stop()
  })
  const started = <T>(part: T | undefined): T => {
    if (part === undefined) throw new Error('the API is not started yet (use it inside a test)')
    return part
  }
  const fixture: ApiFixture = {
    get node() {
      return started(node)
    },
    get api() {
      return started(api)
    },
    get base() {
      return base
    },
    async call(method, path, body) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${started(api).token}`,
          ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
        },
        body,
      })
      expect(res.headers.get('content-type')).toBe('application/json')
      return { status: res.status, headers: res.headers, body: (await res.json()) as unknown }
    },
    post: (body) => fixture.call('POST', '/tasks', typeof body === 'string' ? body : JSON.stringify(body)),
    async expectNothingQueued(acceptedBefore) {
      const { body } = await fixture.call('GET', '/status')
      const status = body as { queued: number; counters: { accepted: number } }
      expect(status.queued).toBe(0)
      expect(status.counters.accepted).toBe(acceptedBefore)
    },
    accepted: () => started(node).status().counters.accepted,
  }
  return fixture
}

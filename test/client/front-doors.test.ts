import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpClient } from '../../src/client/http-client.ts'
import type { MeshClient } from '../../src/client/mesh-client.ts'
import { TaskmeshClient } from '../../src/client/taskmesh-client.ts'
import { HttpApi } from '../../src/http/http-api.ts'
import type { FrontDoor } from '../../src/node/front-door.ts'
import type { NodeStatus } from '../../src/node/node-status.ts'
import { SubmitService } from '../../src/node/wire/submit-service.ts'
import { RemoteError } from '../../src/protocol/errors.ts'
import {
  openResultRecordSync,
  resultKey,
  signResultRecord,
} from '../../src/protocol/records/result-record.ts'
import { InvalidTaskError, UnknownTaskError } from '../../src/task/errors.ts'
import { executorKey, idOf, makeRecord } from '../protocol/fixtures.ts'

/**
 * One interface, two front doors, one conformance suite: a node's HTTP API and its submit
 * protocol serve the same `FrontDoor`, and the HTTP client and the light client read the same
 * answers from them. The front door here is a stub: what is tested is the doors and the clients.
 */

const done = idOf(1) // has a record
const running = idOf(2) // known, no record yet
const unknown = idOf(3) // nobody knows it
const record = makeRecord({ taskId: done })
const value = await signResultRecord(record, executorKey)

/** Who submitted what, as the stub saw it. */
const submissions: Array<{ specs: unknown[]; submitter?: string }> = []

const stub: FrontDoor = {
  async submitMany(specs, opts) {
    if (specs.some((s) => (s as { type?: unknown }).type !== 'echo')) {
      throw new InvalidTaskError('unknown handler type', 'tasks[0].type')
    }
    submissions.push({ specs, submitter: opts?.submitter })
    return specs.map((_, i) => ({ id: idOf(100 + i) }))
  },
  async submitAndWait(specs, opts) {
    const handles = await stub.submitMany(specs, opts)
    return {
      handles,
      results: await Promise.all(handles.map((h) => stub.waitResult(h.id, opts.signal).catch(() => null))),
    }
  },
  async getResult(id) {
    return id === done ? record : undefined
  },
  async waitResult(id, signal) {
    if (id === done) return record
    return new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason)))
  },
  async signedResult(id) {
    return id === done ? value : undefined
  },
  async cancel(id) {
    if (id === unknown) throw new UnknownTaskError(id)
    return { taskId: id, outcome: id === done ? 'finished' : 'cancelled', owner: record.owner }
  },
  async taskState(id) {
    if (id === done) return { state: 'done' }
    return id === running ? { state: 'running', reason: 'here' } : { state: 'unknown' }
  },
  story(id) {
    return id === done ? [{ at: 1, event: 'finished', detail: { status: 'succeeded' } }] : []
  },
  status() {
    return { peerId: record.owner, slots: 3 } as unknown as NodeStatus
  },
}

let server: Libp2p
let service: SubmitService
let api: HttpApi
const clients: Record<string, MeshClient> = {}

beforeAll(async () => {
  server = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  })
  service = new SubmitService(server, stub)
  await service.start()
  api = new HttpApi(stub, { pollMs: 200 })
  clients.http = new HttpClient(await api.listen(0), { token: api.token })
  clients['submit protocol'] = await TaskmeshClient.connect(server.getMultiaddrs()[0].toString())
})

afterAll(async () => {
  await Promise.all(Object.values(clients).map((c) => c.close()))
  await api?.close()
  await service?.stop()
  await server?.stop()
})

describe.each(['http', 'submit protocol'])('the same answers through the %s front door', (door) => {
  const client = () => clients[door]

  it('submits and returns one id per spec; a refusal carries the node code', async () => {
    const before = submissions.length
    expect(await client().submit([{ type: 'echo' }, { type: 'echo', input: 2 }])).toEqual([
      idOf(100),
      idOf(101),
    ])
    expect(submissions).toHaveLength(before + 1)
    expect(submissions.at(-1)?.specs).toEqual([{ type: 'echo' }, { type: 'echo', input: 2 }])
    const err = await client()
      .submit([{ type: 'nope' }])
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RemoteError)
    expect((err as RemoteError).code).toBe('ERR_INVALID_TASK')
    expect(submissions).toHaveLength(before + 1)
  })

  it('reads a result, polled and awaited, and nothing for a task without one', async () => {
    expect(await client().result(done)).toEqual(openResultRecordSync(value, resultKey(done)))
    expect(await client().result(done, { wait: true, timeoutMs: 1_000 })).toEqual(record)
    expect(await client().result(unknown)).toBeUndefined()
    expect(await client().result(running, { wait: true, timeoutMs: 300 })).toBeUndefined()
    const watched = []
    for await (const r of client().watch([done, done], AbortSignal.timeout(5_000))) watched.push(r.taskId)
    expect(watched).toEqual([done])
  })

  it('cancels, and refuses to cancel a task nobody knows with ERR_UNKNOWN_TASK', async () => {
    expect(await client().cancel(running)).toEqual({
      taskId: running,
      outcome: 'cancelled',
      owner: record.owner,
    })
    const err = await client()
      .cancel(unknown)
      .catch((e: unknown) => e)
    expect((err as RemoteError).code).toBe('ERR_UNKNOWN_TASK')
  })

  it('tells the state, the story and the status', async () => {
    expect(await client().state(running)).toEqual({ state: 'running', reason: 'here' })
    expect(await client().state(done)).toEqual({ state: 'done' })
    expect(await client().state(unknown)).toEqual({ state: 'unknown' })
    expect(await client().story(done)).toEqual([
      { at: 1, event: 'finished', detail: { status: 'succeeded' } },
    ])
    expect(await client().status()).toMatchObject({ peerId: record.owner, slots: 3 })
  })

  it('refuses a malformed task id before sending anything, naming it', async () => {
    await expect(client().result('not-a-task-id')).rejects.toThrow(/"not-a-task-id" is not a task id/)
    await expect(client().cancel('nope')).rejects.toThrow(/cancel: "nope" is not a task id/)
  })
})

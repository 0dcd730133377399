import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TaskmeshClient } from '../../src/client/taskmesh-client.ts'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { RemoteError } from '../../src/protocol/errors.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { startLocalMesh, stopMesh } from '../../src/simulation/mesh.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { isTaskId, taskId } from '../../src/task/task-id.ts'

let nodes: TaskmeshNode[] = []
let a: TaskmeshNode
let b: TaskmeshNode
let client: TaskmeshClient

const unknownId = taskId(parseTaskSpec({ type: 'echo' }), 'nobody', 'never-submitted')

beforeAll(async () => {
  nodes = await startLocalMesh({ nodes: 2, slots: 2 })
  ;[a, b] = nodes
  client = await TaskmeshClient.connect(b.multiaddrs[0], { submitter: 'client-test' })
})

afterAll(async () => {
  await client?.close()
  await stopMesh(nodes)
})

/** Expects `promise` to reject with a RemoteError of `code`, and returns it. */
async function remoteError(promise: Promise<unknown>, code: string): Promise<RemoteError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(RemoteError)
  expect((err as RemoteError).code).toBe(code)
  return err as RemoteError
}

describe('TaskmeshClient against a 2-node mesh', () => {
  it('submits a task and waits for its verified result', async () => {
    const [id] = await client.submit([{ type: 'echo', input: { via: 'client' } }])
    expect(isTaskId(id)).toBe(true)
    const record = await client.result(id, { wait: true, timeoutMs: 10_000 })
    expect(record?.taskId).toBe(id)
    expect(record?.status).toBe('succeeded')
    expect(record?.output).toEqual({ via: 'client' })
    // once it exists, a plain poll finds it too
    expect((await client.result(id))?.taskId).toBe(id)
  })

  it('watch yields each result exactly once, as it lands, then ends', async () => {
    // the slow task ends only when the test cancels it, once the other two were yielded
    const ids = await client.submit([
      { type: 'sleep', input: { ms: 60_000, output: 'slow' } },
      { type: 'echo', input: 'fast' },
      { type: 'sleep', input: { ms: 40, output: 'medium' } },
    ])
    const seen: Array<{ record: ResultRecord; at: number }> = []
    // a duplicated id is watched once
    for await (const record of client.watch([...ids, ids[0]], AbortSignal.timeout(10_000))) {
      seen.push({ record, at: Date.now() })
      const got = new Set(seen.map((s) => s.record.taskId))
      if (seen.length === 2 && got.has(ids[1]) && got.has(ids[2])) {
        // streamed: both were yielded while the slow task still ran (a cancel of a finished task says so)
        await expect(client.cancel(ids[0])).resolves.toMatchObject({ outcome: 'cancelled' })
      }
    }
    expect(seen.map((s) => s.record.taskId).sort()).toEqual([...ids].sort())
    const byId = new Map(seen.map((s) => [s.record.taskId, s]))
    expect([ids[1], ids[2]].map((id) => byId.get(id)?.record.output)).toEqual(['fast', 'medium'])
    const slow = byId.get(ids[0])!.record
    expect(slow).toMatchObject({ status: 'failed', error: 'cancelled' })
    expect(seen.at(-1)?.record.taskId).toBe(ids[0])
    // the fast result was yielded before the slow task had even finished
    expect(byId.get(ids[1])!.at).toBeLessThan(slow.finishedAt)
  })

  it('watches, through B, a task that was submitted at A', async () => {
    const handle = await a.submit({ type: 'sleep', input: { ms: 50, output: 'from-a' } })
    const seen: ResultRecord[] = []
    for await (const record of client.watch([handle.id], AbortSignal.timeout(10_000))) seen.push(record)
    expect(seen).toHaveLength(1)
    expect(seen[0].taskId).toBe(handle.id)
    expect(seen[0].owner).toBe(a.peerId)
    expect(seen[0].output).toBe('from-a')
  })

  it('status() returns the dialled peer with its mesh peers and counters', async () => {
    const status = (await client.status()) as {
      peerId: string
      slots: number
      peers: Array<{ peerId: string }>
      counters: { accepted: number }
    }
    expect(status.peerId).toBe(b.peerId)
    expect(status.slots).toBe(2)
    expect(status.peers.map((p) => p.peerId)).toContain(a.peerId)
    expect(status.counters.accepted).toBeGreaterThanOrEqual(4)
  })

  it('a refused submission rejects with the node error code, and nothing is queued', async () => {
    const before = b.status().counters.accepted
    const invalid = await remoteError(
      client.submit([{ type: 'echo' }, { type: 'echo', timeoutMs: -1 }]),
      'ERR_INVALID_TASK',
    )
    expect(invalid.message).toMatch(/^tasks\[1\]\.timeoutMs: /)
    const unknown = await remoteError(client.submit([{ type: 'no-such-handler' }]), 'ERR_UNKNOWN_HANDLER')
    expect(unknown.message).toContain('"no-such-handler"')
    expect(b.status().counters.accepted).toBe(before)
    expect(b.status().queued).toBe(0)
  })

  it('result() of a task nobody submitted is undefined: one poll, and after a wait', async () => {
    expect(await client.result(unknownId)).toBeUndefined()
    expect(await client.result(unknownId, { wait: true, timeoutMs: 200 })).toBeUndefined()
  })

  it('refuses bad arguments locally with a message naming them', async () => {
    await expect(client.submit([])).rejects.toThrow(/tasks: no tasks given/)
    await expect(client.result('not-a-task-id')).rejects.toThrow(/"not-a-task-id" is not a task id/)
    const watching = client.watch(['not-a-task-id'])
    await expect(watching.next()).rejects.toThrow(/taskIds\[0\]: "not-a-task-id" is not a task id/)
  })
})

describe('TaskmeshClient.connect', () => {
  it('refuses an address without /p2p/<peer id>', async () => {
    await expect(TaskmeshClient.connect('/ip4/127.0.0.1/tcp/4010')).rejects.toThrow(
      /no \/p2p\/<peer id> part/,
    )
    await expect(TaskmeshClient.connect('not a multiaddr')).rejects.toThrow(/is not a multiaddr/)
  })

  it('rejects, naming the address, when the peer cannot be reached', async () => {
    const addr = `/ip4/127.0.0.1/tcp/1/p2p/${a.peerId}`
    await expect(TaskmeshClient.connect(addr, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow(
      `cannot reach peer ${addr}`,
    )
  })
})

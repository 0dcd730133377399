import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it, vi } from 'vitest'
import type { RunOutcome, RunRequest } from '../../../src/executor/executor.ts'
import { DependencyGate } from '../../../src/node/owner/dependencies.ts'
import type { RunEntry } from '../../../src/node/run/task-runner.ts'
import { DependencyLoader } from '../../../src/node/thief/dependency-loader.ts'
import type { ResultRecord } from '../../../src/protocol/records/result-record.ts'
import { openResultRecordSync, signResultRecord } from '../../../src/protocol/records/result-record.ts'
import { parseTaskSpec } from '../../../src/task/spec.ts'
import type { Task } from '../../../src/task/task.ts'
import { taskId } from '../../../src/task/task-id.ts'

const idOf = (n: number) => taskId(parseTaskSpec({ type: 'echo', input: n }), 'me', `n${n}`)
const [D1, D2, T] = [idOf(1), idOf(2), idOf(3)]

function task(dependsOn: string[], owner = 'owner'): Task {
  return {
    id: T,
    spec: parseTaskSpec({ type: 'echo', dependsOn }),
    submitter: 'me',
    nonce: 'n',
    owner,
    submittedAt: 0,
  }
}

function record(id: string, status: 'succeeded' | 'failed', extra: Partial<ResultRecord> = {}): ResultRecord {
  return {
    v: 1,
    taskId: id,
    status,
    ...(status === 'succeeded' ? { output: { from: id } } : { error: 'boom' }),
    executor: 'x',
    owner: 'owner',
    epoch: 1,
    attempts: [],
    submittedAt: 0,
    startedAt: 0,
    finishedAt: 0,
    ...extra,
  }
}

/** A results store whose `wait` resolves when the test lands a record. */
function fakeResults() {
  const waiting = new Map<string, Array<(r: ResultRecord) => void>>()
  return {
    wait: vi.fn((id: string, signal?: AbortSignal) => {
      return new Promise<ResultRecord>((resolve, reject) => {
        waiting.set(id, [...(waiting.get(id) ?? []), resolve])
        signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true })
      })
    }),
    land(r: ResultRecord) {
      for (const w of waiting.get(r.taskId) ?? []) w(r)
      waiting.delete(r.taskId)
    },
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('DependencyGate', () => {
  it('holds a task until every dependency succeeded, then releases it with their outputs', async () => {
    const results = fakeResults()
    const onReady = vi.fn()
    const onFailed = vi.fn()
    const gate = new DependencyGate({ results, onReady, onFailed })
    gate.hold(task([D1, D2]))
    expect(gate.has(T)).toBe(true)
    expect(gate.missing(T)).toEqual([D1, D2])
    results.land(record(D1, 'succeeded'))
    await tick()
    expect(onReady).not.toHaveBeenCalled()
    expect(gate.missing(T)).toEqual([D2])
    results.land(record(D2, 'succeeded'))
    await tick()
    expect(onReady).toHaveBeenCalledWith(task([D1, D2]), { [D1]: { from: D1 }, [D2]: { from: D2 } })
    expect(onFailed).not.toHaveBeenCalled()
    expect(gate.size).toBe(0)
  })

  it('fails the task with the first failed dependency’s error, and stops waiting for the rest', async () => {
    const results = fakeResults()
    const onReady = vi.fn()
    const onFailed = vi.fn()
    const gate = new DependencyGate({ results, onReady, onFailed })
    gate.hold(task([D1, D2]))
    results.land(record(D2, 'failed', { error: 'cancelled' }))
    await tick()
    expect(onFailed).toHaveBeenCalledWith(task([D1, D2]), `dependency ${D2} failed: cancelled`)
    results.land(record(D1, 'succeeded'))
    await tick()
    expect(onReady).not.toHaveBeenCalled()
    expect(gate.has(T)).toBe(false)
  })

  it('drops a cancelled task: nothing fires when its dependencies land', async () => {
    const results = fakeResults()
    const onReady = vi.fn()
    const gate = new DependencyGate({ results, onReady, onFailed: vi.fn() })
    gate.hold(task([D1]))
    expect(gate.cancel(T)?.id).toBe(T)
    expect(gate.cancel(T)).toBeUndefined()
    results.land(record(D1, 'succeeded'))
    await tick()
    expect(onReady).not.toHaveBeenCalled()
  })
})

describe('DependencyLoader', () => {
  const ok: RunOutcome = {
    status: 'succeeded',
    output: null,
    startedAt: 0,
    finishedAt: 0,
    unrecoverable: false,
    timedOut: false,
    cancelled: false,
  }
  const request = (): RunRequest => ({ taskId: T, type: 'echo', input: null, timeoutMs: 1000, attempt: 1 })

  async function setup(entry: RunEntry, cached: Record<string, ResultRecord> = {}) {
    const key = await generateKeyPair('Ed25519')
    const ownerPeer = peerIdFromPrivateKey(key).toString()
    const executor = { run: vi.fn(async () => ok) }
    const results = {
      cached: vi.fn((id: string) => cached[id]),
      accept: vi.fn((r: ResultRecord) => r),
      get: vi.fn(async () => undefined as ResultRecord | undefined),
      open: (value: Uint8Array, k?: Uint8Array) => openResultRecordSync(value, k),
    }
    const fetchFrom = vi.fn(async (_peer: string, id: string) =>
      signResultRecord(record(id, 'succeeded', { executor: ownerPeer, owner: ownerPeer }), key),
    )
    const loader = new DependencyLoader({ executor, results, fetchFrom, self: 'thief' })
    const run = () => loader.run(request(), entry)
    return { loader, run, executor, results, fetchFrom, ownerPeer }
  }

  it('fetches a stolen task’s missing outputs from its owner before the handler runs', async () => {
    const entry: RunEntry = { task: task([D1, D2], 'owner'), epoch: 1, attempts: [], dependencies: {} }
    const { run, executor, fetchFrom } = await setup(entry, { [D1]: record(D1, 'succeeded') })
    const outcome = await run()
    expect(outcome.status).toBe('succeeded')
    expect(fetchFrom).toHaveBeenCalledTimes(1)
    expect(fetchFrom.mock.calls[0].slice(0, 2)).toEqual(['owner', D2])
    const ran = executor.run.mock.calls[0] as unknown as [RunRequest]
    expect(ran[0].dependencies).toEqual({ [D1]: { from: D1 }, [D2]: { from: D2 } })
    // a retry does not fetch again
    await run()
    expect(fetchFrom).toHaveBeenCalledTimes(1)
  })

  it('runs at once when nothing is missing, and fails the attempt unrecoverably on a failed dependency', async () => {
    const done: RunEntry = { task: task([D1]), epoch: 1, attempts: [], dependencies: { [D1]: 5 } }
    const first = await setup(done)
    await first.run()
    expect(first.fetchFrom).not.toHaveBeenCalled()
    expect(first.executor.run).toHaveBeenCalledTimes(1)

    const bad: RunEntry = { task: task([D1]), epoch: 1, attempts: [], dependencies: {} }
    const second = await setup(bad, { [D1]: record(D1, 'failed', { error: 'nope' }) })
    const outcome = await second.run()
    expect(outcome).toMatchObject({ status: 'failed', unrecoverable: true })
    expect(outcome.error).toBe(`dependency ${D1} failed: nope`)
    expect(second.executor.run).not.toHaveBeenCalled()
  })
})

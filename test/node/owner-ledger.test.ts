import { describe, expect, it, vi } from 'vitest'
import { LocalQueue } from '../../src/node/local-queue.ts'
import { createNodeCounters } from '../../src/node/node-counters.ts'
import { OwnerLedger } from '../../src/node/owner-ledger.ts'
import { DurationEstimator } from '../../src/policy/capacity.ts'
import { DEFAULT_AGING } from '../../src/policy/priority.ts'
import type { StealRequest } from '../../src/protocol/messages.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import type { Task } from '../../src/task/task.ts'

const offer = { types: ['echo'], labels: [], slots: 4, memoryMb: 1024 }

function task(id: string): Task {
  return {
    id,
    spec: parseTaskSpec({ type: 'echo', input: id }),
    submitter: 'me',
    nonce: id,
    owner: 'me',
    submittedAt: 0,
  }
}

function stealRequest(max: number): StealRequest {
  return {
    type: 'steal',
    requestId: 'r1',
    max,
    offer,
    queued: 0,
    queuedWorkMs: 0,
    speed: 1,
    freeSlots: 4,
  }
}

function setup(leaseTtlMs = 10_000) {
  const queue = new LocalQueue({
    policy: DEFAULT_AGING,
    estimator: new DurationEstimator(),
    canRunHere: () => true,
    runningWorkMs: () => 0,
  })
  const counters = createNodeCounters()
  const onRequeued = vi.fn()
  const onGranted = vi.fn()
  const accept = vi.fn()
  const ledger = new OwnerLedger({
    queue,
    results: { accept },
    counters,
    leaseTtlMs,
    slots: 1,
    speed: 1,
    onRequeued,
    onGranted,
  })
  return { queue, counters, ledger, onRequeued, onGranted }
}

describe('OwnerLedger', () => {
  it('adopts a task once and queues it as stealable', () => {
    const { queue, counters, ledger } = setup()
    expect(ledger.adopt(task('a'))).toBe(true)
    expect(ledger.adopt(task('a'))).toBe(false)
    expect(counters.accepted).toBe(1)
    expect(ledger.size).toBe(1)
    expect(queue.stealableCount).toBe(1)
  })

  it('grants queued tasks under fresh epochs and renews only the holder’s current lease', () => {
    const { ledger, counters, onGranted } = setup()
    for (const id of ['a', 'b', 'c']) ledger.adopt(task(id))
    const grant = ledger.grant('thief', stealRequest(2))
    expect(grant.tasks.map((t) => t.id)).toHaveLength(2)
    expect(grant.leases.every((l) => l.epoch === 1)).toBe(true)
    expect(counters.tasksGranted).toBe(2)
    expect(ledger.leasedOut).toBe(2)
    expect(onGranted).toHaveBeenCalledOnce()
    const [first] = grant.leases
    const reply = ledger.renew('thief', {
      type: 'renew',
      requestId: 'r2',
      leases: [first, { taskId: first.taskId, epoch: 9 }].map(({ taskId, epoch }) => ({ taskId, epoch })),
    })
    expect(reply.accepted).toEqual([first.taskId])
    expect(reply.rejected).toEqual([first.taskId])
    expect(ledger.renew('other', { type: 'renew', requestId: 'r3', leases: [first] }).rejected).toEqual([
      first.taskId,
    ])
  })

  it('accepts the holder’s completion, calls another peer’s stale, and forgets the task', async () => {
    const { ledger } = setup()
    ledger.adopt(task('a'))
    const { leases } = ledger.grant('thief', stealRequest(1))
    const completion = { taskId: 'a', epoch: leases[0].epoch, status: 'succeeded' as const }
    const stale = await ledger.complete('other', {
      type: 'complete',
      requestId: 'c1',
      completions: [completion],
    })
    expect(stale.outcomes).toEqual([{ taskId: 'a', outcome: 'stale' }])
    const ok = await ledger.complete('thief', {
      type: 'complete',
      requestId: 'c2',
      completions: [completion],
    })
    expect(ok.outcomes).toEqual([{ taskId: 'a', outcome: 'accepted' }])
    expect(ledger.has('a')).toBe(false)
    expect(ledger.leasedOut).toBe(0)
  })

  it('requeues a released lease and an expired one', async () => {
    const { ledger, queue, counters, onRequeued } = setup(1)
    ledger.adopt(task('a'))
    ledger.adopt(task('b'))
    const { leases } = ledger.grant('thief', stealRequest(2))
    expect(queue.size).toBe(0)
    const released = ledger.release('thief', { type: 'release', requestId: 'x', leases: [leases[0]] })
    expect(released.released).toEqual([leases[0].taskId])
    expect(queue.size).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 5))
    ledger.expireLeases()
    expect(counters.leasesExpired).toBe(1)
    expect(queue.size).toBe(2)
    expect(onRequeued).toHaveBeenCalledTimes(2)
    expect(ledger.get(leases[1].taskId)?.state).toBe('queued')
  })

  it('takes a result notice from the lease holder as its completion', () => {
    const { ledger } = setup()
    ledger.adopt(task('a'))
    const { leases } = ledger.grant('thief', stealRequest(1))
    ledger.noteResult('other', 'a', leases[0].epoch)
    expect(ledger.has('a')).toBe(true)
    ledger.noteResult('thief', 'a', leases[0].epoch)
    expect(ledger.has('a')).toBe(false)
  })

  it('runs an owned task locally under an epoch above every grant', () => {
    const { ledger } = setup()
    ledger.adopt(task('a'))
    ledger.grant('thief', stealRequest(1))
    ledger.release('thief', { type: 'release', requestId: 'x', leases: [{ taskId: 'a', epoch: 1 }] })
    const entry = ledger.beginRun('a')
    expect(entry?.epoch).toBe(2)
    expect(ledger.get('a')?.state).toBe('running')
    expect(ledger.beginRun('unknown')).toBeUndefined()
    ledger.settle('a', 2)
    expect(ledger.size).toBe(0)
  })
})

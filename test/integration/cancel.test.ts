import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { UnknownTaskError } from '../../src/task/errors.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { taskId } from '../../src/task/task-id.ts'
import { deadline, sleepSpec, stopAll, waitFor } from './helpers.ts'

const LONG_MS = 60_000
const events = (node: TaskmeshNode, id: string) => node.story(id).map((e) => e.event)

function expectCancelled(r: ResultRecord, owner: TaskmeshNode) {
  expect(r).toMatchObject({
    status: 'failed',
    error: 'cancelled',
    executor: owner.peerId,
    owner: owner.peerId,
  })
}

/** Polls `read` until it yields a record of `epoch` (records land in the background). */
async function eventually(
  read: () => Promise<ResultRecord | undefined>,
  epoch: number,
): Promise<ResultRecord> {
  const until = Date.now() + 10_000
  for (;;) {
    const r = await read()
    if (r?.epoch === epoch || Date.now() > until) return r as ResultRecord
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('cancel on a lone node', () => {
  let node: TaskmeshNode

  beforeAll(async () => {
    node = await TaskmeshNode.create({ slots: 1 })
  })
  afterAll(async () => {
    await node?.stop()
  })

  it('removes a queued task: failed "cancelled", never run, its dependents fail', async () => {
    // the one slot stays busy until the checks are done: the blocker runs until the test cancels it
    const [blocker] = await node.submitMany([sleepSpec(LONG_MS, 'done')])
    const [queued, dependent] = await node.submitMany([
      { key: 'q', ...sleepSpec(10, 'never') },
      { type: 'echo', dependsOn: ['q'] },
    ])
    expect(await node.taskState(queued.id)).toEqual({ state: 'queued', owner: node.peerId })
    await expect(node.cancel(queued.id)).resolves.toEqual({
      taskId: queued.id,
      outcome: 'cancelled',
      owner: node.peerId,
    })
    const record = await queued.result(deadline())
    expectCancelled(record, node)
    expect(record.attempts).toEqual([])
    const dep = await dependent.result(deadline())
    expect(dep.error).toBe(`dependency ${queued.id} failed: cancelled`)
    // the cancel of the queued task left the running blocker alone
    expect(await node.taskState(blocker.id)).toEqual({ state: 'running', owner: node.peerId })
    await expect(node.cancel(blocker.id)).resolves.toMatchObject({ outcome: 'cancelled' })
    expectCancelled(await blocker.result(deadline()), node)
    expect(events(node, queued.id)).not.toContain('started') // not even once the slot was free
    expect(await node.taskState(queued.id)).toEqual({ state: 'done', owner: node.peerId })
    // a second cancel finds the result; an id nobody knows is refused
    await expect(node.cancel(queued.id)).resolves.toMatchObject({ outcome: 'finished' })
    await expect(node.cancel(blocker.id)).resolves.toMatchObject({ outcome: 'finished' })
    const nobody = taskId(parseTaskSpec({ type: 'echo' }), 'nobody', 'x')
    await expect(node.cancel(nobody)).rejects.toThrow(UnknownTaskError)
    expect(await node.taskState(nobody)).toEqual({ state: 'unknown' })
  })

  it('aborts a running task through its signal and never retries it', async () => {
    const [running] = await node.submitMany([sleepSpec(LONG_MS, 'never')])
    await waitFor(() => node.status().running === 1, 5_000, 'the sleep never started')
    expect(await node.taskState(running.id)).toEqual({ state: 'running', owner: node.peerId })
    const retried = node.status().counters.retried
    const asked = Date.now()
    await node.cancel(running.id)
    const record = await running.result(deadline())
    expectCancelled(record, node)
    expect(Date.now() - asked).toBeLessThan(2_000)
    await waitFor(() => node.status().running === 0, 2_000, 'the aborted run kept its slot')
    // final now: the slot is freed in the same turn the attempt's end is handled (dropped or retried)
    expect(node.status().counters.retried).toBe(retried)
    expect(record.epoch).toBeGreaterThan(record.attempts.at(-1)?.epoch ?? 0)
    // the run that was cut short is in the record, dated from when it started, not from the cancel
    const started = node.story(running.id).find((e) => e.event === 'started')!.at
    expect(record.attempts).toMatchObject([{ executor: node.peerId, cut: 'cancelled', error: 'cancelled' }])
    expect(record.attempts[0].startedAt).toBeLessThanOrEqual(started + 5)
    expect(record.startedAt).toBe(record.attempts[0].startedAt)
    // it ran from its start until the cancel (the two may fall in the same millisecond)
    expect(record.startedAt).toBeLessThanOrEqual(asked)
    expect(record.finishedAt).toBeGreaterThanOrEqual(asked)
    expect(events(node, running.id)).toEqual(expect.arrayContaining(['started', 'cancelled', 'dropped']))
    expect(events(node, running.id)).not.toContain('retried')
  })
})

describe('cancel of a stolen task', () => {
  let nodes: TaskmeshNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  /** A (one slot, busy) owns `spec`; B or C steals it. Returns [owner, thief, bystander, handle]. */
  async function stolen(leaseTtlMs: number, taskMs: number) {
    nodes = await startLocalMesh({ nodes: 3, slots: 1, nodeOptions: () => ({ leaseTtlMs }) })
    const [a, b, c] = nodes
    await a.submitMany([sleepSpec(LONG_MS, 'blocker')])
    const [handle] = await a.submitMany([sleepSpec(taskMs, 'stale')])
    await waitFor(
      () => [b, c].some((n) => n.status().leasedIn === 1 && n.status().running === 1),
      10_000,
      'no thief started the task',
    )
    const thief = b.status().running === 1 ? b : c
    const bystander = thief === b ? c : b
    const granted = a.story(handle.id).find((e) => e.event === 'granted')
    expect(granted?.detail).toMatchObject({ to: thief.peerId })
    return { a, thief, bystander, handle, leaseEpoch: Number(granted?.detail?.epoch) }
  }

  it('a non-owner forwards the cancel; the owner revokes the lease and the thief aborts the run', async () => {
    const { a, thief, bystander, handle, leaseEpoch } = await stolen(1_500, LONG_MS)
    expect(await bystander.taskState(handle.id)).toEqual({ state: 'leased', owner: a.peerId }) // asked the owner
    await expect(bystander.cancel(handle.id)).resolves.toEqual({
      taskId: handle.id,
      outcome: 'cancelled',
      owner: a.peerId,
    })
    const record = await handle.result(deadline())
    expectCancelled(record, a)
    expect(record.epoch).toBeGreaterThan(leaseEpoch)
    // the thief's run, cut short by the cancel, is in the record
    expect(record.attempts).toMatchObject([{ executor: thief.peerId, epoch: leaseEpoch, cut: 'cancelled' }])
    // the thief's next renewal is rejected: it drops the lease and aborts the handler
    await waitFor(
      () => thief.status().running === 0 && thief.status().leasedIn === 0,
      5_000,
      'thief kept running',
    )
    expect(events(thief, handle.id)).toEqual(
      expect.arrayContaining(['stolen', 'started', 'renew-rejected', 'dropped']),
    )
    expect(events(thief, handle.id)).not.toContain('finished')
    expect(events(bystander, handle.id)).toContain('cancel-forwarded')
    expectCancelled(await thief.waitResult(handle.id, deadline()), a)
  })

  it('a result the thief still sends after the cancel loses to the cancelled record everywhere', async () => {
    // a long lease: the thief finishes before its first renewal, unaware of the cancel
    const { a, thief, bystander, handle, leaseEpoch } = await stolen(10_000, 1_500)
    await a.cancel(handle.id)
    await waitFor(() => events(thief, handle.id).includes('finished'), 5_000, 'the thief never finished')
    expect(thief.story(handle.id).find((e) => e.event === 'finished')?.detail).toMatchObject({
      status: 'succeeded',
      epoch: leaseEpoch,
    })
    await waitFor(() => events(a, handle.id).includes('completed'), 5_000, 'no completion reached the owner')
    expect(a.story(handle.id).find((e) => e.event === 'completed')?.detail).toMatchObject({
      by: thief.peerId,
      outcome: 'stale',
    })
    const cancelEpoch = leaseEpoch + 1
    expectCancelled((await a.getResult(handle.id))!, a)
    await Promise.all(nodes.map((n) => n.flushResults()))
    for (const n of [bystander, thief, a]) {
      const polled = await eventually(() => n.getResult(handle.id, { skipCache: true }), cancelEpoch)
      expect(polled.epoch, `DHT read at ${n.peerId}`).toBe(cancelEpoch)
      expectCancelled(polled, a)
    }
    // the thief itself ends up holding the owner's record, not its own late one
    expectCancelled(await eventually(() => thief.getResult(handle.id), cancelEpoch), a)
  })
})

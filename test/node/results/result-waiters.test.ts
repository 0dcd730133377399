import { afterEach, describe, expect, it, vi } from 'vitest'
import { ResultWaiters } from '../../../src/node/results/result-waiters.ts'
import { makeRecord } from '../../protocol/fixtures.ts'

const record = makeRecord()
const id = record.taskId

describe('ResultWaiters', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('wakes every waiter of a task with the record, and forgets them', async () => {
    const waiters = new ResultWaiters()
    const both = Promise.all([waiters.wait(id), waiters.wait(id)])
    expect(waiters.has(id)).toBe(true)
    waiters.wake(record)
    expect(await both).toEqual([record, record])
    expect(waiters.has(id)).toBe(false)
  })

  it("rejects with the signal's reason when it aborts, before or during the wait", async () => {
    const waiters = new ResultWaiters()
    const early = new AbortController()
    early.abort(new Error('gone'))
    await expect(waiters.wait(id, early.signal)).rejects.toThrow('gone')
    const late = new AbortController()
    const waiting = waiters.wait(id, late.signal)
    late.abort(new Error('later'))
    await expect(waiting).rejects.toThrow('later')
    expect(waiters.has(id)).toBe(false)
  })

  it('one signal ends many waits: those woken first resolve, the rest reject when it aborts', async () => {
    const waiters = new ResultWaiters()
    const stop = new AbortController()
    const records = Array.from({ length: 20_000 }, (_, i) => makeRecord({ taskId: `${id}-${i}` }))
    const outcomes = records.map((r) =>
      waiters.wait(r.taskId, stop.signal).then(
        () => 'resolved',
        (err: Error) => err.message,
      ),
    )
    for (const r of records.slice(0, 5)) waiters.wake(r)
    stop.abort(new Error('client left'))
    const got = await Promise.all(outcomes)
    expect(got.slice(0, 5)).toEqual(Array(5).fill('resolved'))
    expect(new Set(got.slice(5))).toEqual(new Set(['client left']))
    expect(records.some((r) => waiters.has(r.taskId))).toBe(false)
    // a later wait under the aborted signal ends at once; one under a fresh signal waits
    await expect(waiters.wait(id, stop.signal)).rejects.toThrow('client left')
    const fresh = new AbortController()
    const later = waiters.wait(id, fresh.signal)
    waiters.wake(record)
    expect(await later).toEqual(record)
  })

  it('without a signal, rejects with a TimeoutError at the sweep after the deadline', async () => {
    vi.useFakeTimers()
    const waiters = new ResultWaiters()
    const waiting = waiters.wait(id, undefined, 1_500)
    const outcome = waiting.then(
      () => 'resolved',
      (err: Error) => err.name,
    )
    await vi.advanceTimersByTimeAsync(1_000)
    expect(waiters.has(id)).toBe(true)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(await outcome).toBe('TimeoutError')
    expect(waiters.has(id)).toBe(false)
  })

  it('resolves the waits for a stored copy once it is stored', async () => {
    const waiters = new ResultWaiters()
    let stored = false
    const waiting = waiters.waitStored(id).then(() => {
      stored = true
    })
    waiters.wakeStored('another task')
    await Promise.resolve()
    expect(stored).toBe(false)
    waiters.wakeStored(id)
    await waiting
    expect(stored).toBe(true)
  })
})

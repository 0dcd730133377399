import { describe, expect, it } from 'vitest'
import { custodyHold, SettledWaits } from '../../../src/node/owner/custody-wait.ts'
import { TaskEvents } from '../../../src/node/story/task-events.ts'
import type { Task } from '../../../src/task/task.ts'
import { makeTask, OWNER } from '../../protocol/fixtures.ts'

/** Resolves with 'first' when `p` settles before `ms` of wall time, else with 'timeout'. */
async function within(p: Promise<unknown>, ms: number): Promise<'first' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms)
  })
  const first = await Promise.race([p.then(() => 'first' as const), timeout])
  clearTimeout(timer)
  return first
}

describe('SettledWaits', () => {
  it('resolves once every open task settled; tasks not open count as settled', async () => {
    const open = new Set(['a', 'b'])
    const waits = new SettledWaits((id) => open.has(id))
    const all = waits.all(['a', 'b', 'c', 'a'], new AbortController().signal)
    waits.settled('a')
    expect(await within(all, 20)).toBe('timeout')
    waits.settled('b')
    expect(await within(all, 1_000)).toBe('first')
    expect(waits.size).toBe(0)
  })

  it('resolves at once when nothing is open, and forgets a wait whose signal aborted', async () => {
    const waits = new SettledWaits(() => false)
    expect(await within(waits.all(['x'], new AbortController().signal), 1_000)).toBe('first')
    const openWaits = new SettledWaits(() => true)
    const stop = new AbortController()
    void openWaits.all(['x', 'y'], stop.signal)
    expect(openWaits.size).toBe(2)
    stop.abort()
    expect(openWaits.size).toBe(0)
  })
})

/** A hand-over whose keeper never hears back from its custodians; records what it was handed. */
function holdWith(ledger: { has(id: string): boolean; ended(id: string): boolean }, waitMs = 60_000) {
  const events = new TaskEvents()
  const handed: string[][] = []
  const hold = custodyHold({
    keeper: {
      hold: (tasks: Task[]) => {
        handed.push(tasks.map((t) => t.id))
        return new Promise<void>(() => undefined)
      },
      drop: () => undefined,
      current: [],
    },
    ledger,
    events,
    waitMs,
  })
  return { hold, events, handed }
}

describe('custodyHold', () => {
  it('stops waiting for silent custodians once every task of the hand-over has its result', async () => {
    const open = new Set<string>()
    const tasks = [makeTask(1, OWNER), makeTask(2, OWNER)]
    for (const t of tasks) open.add(t.id)
    const { hold, events, handed } = holdWith({ has: (id) => open.has(id), ended: (id) => !open.has(id) })
    const held = hold(tasks)
    expect(handed).toEqual([tasks.map((t) => t.id)])
    for (const t of tasks) {
      open.delete(t.id)
      events.emit(t.id, 'settled', { epoch: 1 })
    }
    expect(await within(held, 1_000)).toBe('first')
  })

  it('hands over no task that ended already', async () => {
    const { hold, handed } = holdWith({ has: () => false, ended: () => true })
    await hold([makeTask(3, OWNER)])
    expect(handed).toEqual([])
  })

  it('waits for the custodians (here: to its deadline) when a task waits on others', async () => {
    const task = makeTask(4, OWNER)
    const waiting: Task = { ...task, spec: { ...task.spec, dependsOn: [makeTask(5, OWNER).id] } }
    const { hold, events } = holdWith({ has: () => false, ended: () => false }, 50)
    const held = hold([waiting])
    events.emit(waiting.id, 'settled', { epoch: 1 })
    expect(await within(held, 20)).toBe('timeout')
    expect(await within(held, 1_000)).toBe('first')
  })
})

import { describe, expect, it, vi } from 'vitest'
import { Intake, type Takeover } from '../../../src/node/owner/intake.ts'
import type { TaskEvents } from '../../../src/node/story/task-events.ts'
import type { ResultRecord } from '../../../src/protocol/records/result-record.ts'
import { NodeStoppedError, QueueFullError } from '../../../src/task/errors.ts'
import type { Task } from '../../../src/task/task.ts'
import { makeRecord, makeTask } from '../../protocol/fixtures.ts'

/** An intake over stand-ins that record what it asks of the ledger and the result store. */
function intakeOver(
  opts: { state?: string; owned?: Set<string>; stored?: Set<string>; inDht?: Set<string> } = {},
) {
  const taken: Array<{ task: Task; how: Takeover & { dependencies?: unknown } }> = []
  const journalled: string[][] = []
  const waits = new Map<string, (r: ResultRecord) => void>()
  const owned = opts.owned ?? new Set<string>()
  const ledger = {
    take: vi.fn((task: Task, how: Takeover = {}) => {
      taken.push({ task, how })
      owned.add(task.id)
      return true
    }),
    journalAll: vi.fn(async (tasks: Task[]) => void journalled.push(tasks.map((t) => t.id))),
    journalLater: vi.fn(async (tasks: Task[]) => void journalled.push(tasks.map((t) => t.id))),
    has: (id: string) => owned.has(id),
    endWaiting: vi.fn(),
  }
  const results = {
    wait: (id: string) => new Promise<ResultRecord>((resolve) => waits.set(id, resolve)),
    cached: () => undefined,
    local: vi.fn(async (id: string) =>
      opts.stored?.has(id) ? (makeRecord({ taskId: id }) as ResultRecord) : undefined,
    ),
    poll: vi.fn(async (_id: string, _signal: AbortSignal) => undefined),
    get: vi.fn(async (id: string, _opts: { signal: AbortSignal }) =>
      opts.inDht?.has(id) ? (makeRecord({ taskId: id }) as ResultRecord) : undefined,
    ),
  }
  const publisher = { publish: vi.fn(async (_r: ResultRecord) => undefined) }
  const intake = new Intake({
    ...{ self: 'owner-peer', ledger, results, publisher },
    queue: { size: 0 },
    events: { emit: () => undefined } as unknown as TaskEvents,
    maxQueueLength: 1_000,
    random: Math.random,
    knowsType: () => true,
    state: () => opts.state ?? 'running',
  })
  const land = (id: string, status: 'succeeded' | 'failed') =>
    waits.get(id)?.(
      makeRecord({ taskId: id, status, ...(status === 'failed' ? { error: 'boom' } : {}) }) as ResultRecord,
    )
  return { intake, ledger, results, publisher, taken, journalled, land }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

/** A task of another owner with `dependsOn`, as a custodian or a journal hands it over. */
function dependent(n: number, dependsOn: string[]): Task {
  const base = makeTask(n, 'owner-peer')
  return { ...base, spec: { ...base.spec, dependsOn } }
}

describe('Intake and task graphs', () => {
  it('accepts a dependency on a task whose record is in its store or the DHT, refuses one with none', async () => {
    const old = makeTask(900, 'owner-peer').id // ended here long ago: stored, no longer cached
    const elsewhere = makeTask(901, 'other-peer').id // ended at another node: in the DHT
    const nowhere = makeTask(902, 'other-peer').id
    const { intake, results } = intakeOver({ stored: new Set([old]), inDht: new Set([elsewhere]) })
    const { tasks } = await intake.accept([{ type: 'echo', dependsOn: [old, elsewhere] }], 'client')
    expect(intake.gate.has(tasks[0].task.id)).toBe(true) // it waits for them: both are met
    await expect(intake.accept([{ type: 'echo', dependsOn: [nowhere] }], 'client')).rejects.toThrow(
      `tasks[0].dependsOn[0]: "${nowhere}" is neither a key in this submission nor a known task id`,
    )
    // a submission without dependencies reads nothing
    results.local.mockClear()
    results.get.mockClear()
    await intake.accept([{ type: 'echo' }], 'client')
    expect(results.local).not.toHaveBeenCalled()
    expect(results.get).not.toHaveBeenCalled()
  })

  it('journals a submission’s waiting tasks with the others, in one group, before any is released', async () => {
    const { intake, journalled, taken } = intakeOver()
    const { tasks } = await intake.accept(
      [
        { key: 'p', type: 'sleep', input: 1 },
        { key: 'c', type: 'echo', input: 2, dependsOn: ['p'] },
      ],
      'client',
    )
    const [p, c] = tasks.map((t) => t.task.id)
    expect(journalled).toEqual([[p, c]])
    expect(taken.map((t) => t.task.id)).toEqual([p])
    expect(intake.gate.has(c)).toBe(true)
  })

  it('releases a waiting submitted task without journalling it again', async () => {
    const { intake, journalled, taken, land } = intakeOver()
    const { tasks } = await intake.accept(
      [
        { key: 'p', type: 'sleep', input: 1 },
        { key: 'c', type: 'echo', input: 2, dependsOn: ['p'] },
      ],
      'client',
    )
    land(tasks[0].task.id, 'succeeded')
    await tick()
    expect(taken[1].how).toMatchObject({ journalled: true })
    expect(journalled).toHaveLength(1)
  })

  it('holds an adopted task with dependencies: journalled now, released with the adoption’s floor', async () => {
    const { intake, journalled, taken, land } = intakeOver({ owned: new Set(['dep']) })
    const task = dependent(1, ['dep'])
    expect(intake.own(task, { as: 'adopted', floor: 5_000 })).toBe(true)
    expect(intake.own(task, { as: 'adopted', floor: 6_000 })).toBe(false)
    expect(intake.owns(task.id)).toBe(true)
    expect(journalled).toEqual([[task.id]])
    expect(taken).toEqual([])
    land('dep', 'succeeded')
    await tick()
    expect(taken).toHaveLength(1)
    expect(taken[0].how).toMatchObject({ as: 'adopted', floor: 5_000, journalled: true })
  })

  it('fails a replayed task whose dependency failed, above its floor; its journal entry ends once the record is stored', async () => {
    const { intake, journalled, publisher, ledger, land } = intakeOver({ owned: new Set(['dep']) })
    const task = dependent(2, ['dep'])
    intake.own(task, { as: 'replayed', floor: 7_000 })
    expect(journalled).toEqual([]) // in the journal already
    land('dep', 'failed')
    await tick()
    expect(ledger.endWaiting).toHaveBeenCalledWith(task.id)
    expect(publisher.publish.mock.calls[0][0]).toMatchObject({
      taskId: task.id,
      status: 'failed',
      error: 'dependency dep failed: boom',
      epoch: 7_000,
    })
  })

  it('ends the journal entry of a waiting task that is cancelled', () => {
    const { intake, ledger } = intakeOver({ owned: new Set(['dep']) })
    const task = dependent(3, ['dep'])
    intake.own(task, { as: 'adopted', floor: 1 })
    expect(intake.cancelWaiting(task.id)?.id).toBe(task.id)
    expect(ledger.endWaiting).toHaveBeenCalledWith(task.id)
    expect(intake.cancelWaiting(task.id)).toBeUndefined()
    expect(ledger.endWaiting).toHaveBeenCalledTimes(1)
  })

  it('seeks a dependency nothing here brings — the local store, then polls — once however many wait; never one owned here', async () => {
    const { intake, results } = intakeOver({ owned: new Set(['mine']), stored: new Set(['stored']) })
    intake.own(dependent(4, ['mine', 'elsewhere']), { as: 'adopted', floor: 1 })
    intake.own(dependent(5, ['elsewhere', 'stored']), { as: 'adopted', floor: 1 })
    await tick()
    await tick()
    expect(results.local.mock.calls.map(([id]) => id).sort()).toEqual(['elsewhere', 'stored'])
    expect(results.poll.mock.calls.map(([id]) => id)).toEqual(['elsewhere'])
    // the search ends with the last task that waits for it
    const signal = results.poll.mock.calls[0][1]
    intake.cancelWaiting(dependent(4, []).id)
    expect(signal.aborted).toBe(false)
    intake.cancelWaiting(dependent(5, []).id)
    expect(signal.aborted).toBe(true)
  })

  it('refuses submissions at a stopping or stopped node for good, at a draining one as back-pressure', async () => {
    for (const state of ['stopping', 'stopped']) {
      const refusal = intakeOver({ state }).intake.accept([{ type: 'echo' }], 'client')
      await expect(refusal).rejects.toBeInstanceOf(NodeStoppedError)
      await expect(refusal).rejects.toMatchObject({
        code: 'ERR_NODE_STOPPED',
        message: 'the node is stopped: submit to a running node',
      })
    }
    const draining = intakeOver({ state: 'draining' }).intake.accept([{ type: 'echo' }], 'client')
    await expect(draining).rejects.toBeInstanceOf(QueueFullError)
    await expect(draining).rejects.toThrow('node is draining: submit to another node')
  })
})

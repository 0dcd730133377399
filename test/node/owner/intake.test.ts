import { describe, expect, it } from 'vitest'
import { INTAKE_TURN_ITEMS, Intake } from '../../../src/node/owner/intake.ts'
import type { TaskEvents } from '../../../src/node/story/task-events.ts'
import { QueueFullError } from '../../../src/task/errors.ts'
import type { Task } from '../../../src/task/task.ts'

/** An intake over stand-ins: `taken` lists every task the ledger took, with the turn it went in. */
function intakeOver(maxQueueLength: number) {
  const taken: Array<{ task: Task; turn: number }> = []
  const journalled: Task[][] = []
  const clock: { turn: number; onTake: (count: number) => void } = { turn: 0, onTake: () => undefined }
  const intake = new Intake({
    self: 'owner-peer',
    ledger: {
      take: (task: Task, how?: { journalled?: boolean }) => {
        if (how?.journalled !== true) journalled.push([task])
        taken.push({ task, turn: clock.turn })
        clock.onTake(taken.length)
        return true
      },
      journalAll: async (tasks: Task[]) => void journalled.push(tasks),
      journalLater: async (tasks: Task[], after: Promise<unknown>) => {
        await after
        journalled.push(tasks)
      },
      has: () => false,
      endWaiting: () => undefined,
    },
    queue: {
      get size() {
        return taken.length
      },
    },
    results: {
      wait: () => new Promise(() => undefined),
      cached: () => undefined,
      local: async () => undefined,
      poll: async () => undefined,
      get: async () => undefined,
    },
    publisher: { publish: async () => undefined },
    events: { emit: () => undefined } as unknown as TaskEvents,
    maxQueueLength,
    random: Math.random,
    knowsType: () => true,
    state: () => 'running',
  })
  return { intake, taken, clock, journalled }
}

const sleeps = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({ type: 'sleep', input: from + i }))

/** Counts turns of the event loop (each `setImmediate` is one) until `stop` is called. */
function countTurns(clock: { turn: number }): () => void {
  let on = true
  const tick = () => {
    if (!on) return
    clock.turn++
    setImmediate(tick)
  }
  setImmediate(tick)
  return () => {
    on = false
  }
}

describe('Intake', () => {
  it('takes an accepted submission in turns of INTAKE_TURN_ITEMS tasks, in order, all before it resolves; journals it once', async () => {
    const { intake, taken, clock, journalled } = intakeOver(10_000)
    const stop = countTurns(clock)
    const count = 3 * INTAKE_TURN_ITEMS + 5
    const { tasks: prepared } = await intake.accept(sleeps(count), 'client')
    stop()
    expect(taken.map((t) => t.task.id)).toEqual(prepared.map((p) => p.task.id))
    const perTurn = new Map<number, number>()
    for (const { turn } of taken) perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1)
    expect([...perTurn.values()]).toEqual([INTAKE_TURN_ITEMS, INTAKE_TURN_ITEMS, INTAKE_TURN_ITEMS, 5])
    // one journal group for the whole submission, before its first task was taken
    expect(journalled.map((group) => group.map((t) => t.id))).toEqual([prepared.map((p) => p.task.id)])
  })

  it('counts the tasks of a submission still going in as held: one checked meanwhile is refused past the limit', async () => {
    const first = 4 * INTAKE_TURN_ITEMS
    const { intake, taken, clock } = intakeOver(first + 40)
    let second: Promise<unknown> | undefined
    clock.onTake = (count) => {
      // after the first turn of the first submission, another one of 60 tasks comes in
      if (count === INTAKE_TURN_ITEMS && second === undefined) {
        second = intake.accept(sleeps(60, 10_000), 'client').catch((err: unknown) => err)
      }
    }
    await intake.accept(sleeps(first), 'client')
    const refusal = await second
    expect(refusal).toBeInstanceOf(QueueFullError)
    expect((refusal as Error).message).toBe(
      `queue full: ${first} queued or waiting + 60 submitted exceeds ${first + 40}`,
    )
    expect(taken).toHaveLength(first)
    // once the first is in, the count is the ledger's alone
    expect((await intake.accept(sleeps(40, 20_000), 'client')).tasks).toHaveLength(40)
    await expect(intake.accept(sleeps(1, 30_000), 'client')).rejects.toThrow(
      `queue full: ${first + 40} queued or waiting + 1 submitted exceeds ${first + 40}`,
    )
    // one larger than the whole queue never fits: it is told to split, not to come back
    await expect(intake.accept(sleeps(first + 41, 40_000), 'client')).rejects.toThrow(
      `a submission of ${first + 41} tasks can never fit a queue of at most ${first + 40}: split it`,
    )
  })

  it('with journalAfter, journals the submission once that settles, and says so', async () => {
    const { intake, journalled } = intakeOver(10_000)
    const after = Promise.withResolvers<void>()
    const { tasks, journalled: written } = await intake.accept(sleeps(3), 'client', {
      journalAfter: after.promise,
    })
    let done = false
    void written.then(() => (done = true))
    await new Promise((resolve) => setImmediate(resolve))
    expect(journalled).toEqual([])
    expect(done).toBe(false)
    after.resolve()
    await written
    expect(journalled.map((group) => group.map((t) => t.id))).toEqual([tasks.map((p) => p.task.id)])
  })
})

import { setImmediate as afterTurn } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { type AcceptanceParts, custodyGrace, takeSubmission } from '../../../src/node/owner/acceptance.ts'
import type { PreparedTask } from '../../../src/node/owner/submission.ts'
import { QueueFullError } from '../../../src/task/errors.ts'
import type { Task } from '../../../src/task/task.ts'

/** Stand-ins for the intake, journal and custody, recording what was asked of them and when. */
function parts(refuse?: Error) {
  const log: string[] = []
  const ended = new Set<string>()
  const refused: string[] = []
  const cancelled: string[] = []
  let journal!: () => void
  let journalFails!: (err: Error) => void
  let custody!: () => void
  const p: AcceptanceParts = {
    intake: {
      accept: async (specs, _submitter, how) => {
        if (refuse !== undefined) throw refuse
        if (how?.journalAfter !== undefined) void how.journalAfter.then(() => log.push('journal'))
        else log.push('journal')
        return {
          tasks: specs.map((_, i) => ({ task: { id: `t${i}` } as Task }) as PreparedTask),
          journalled: new Promise<void>((resolve, reject) => {
            journal = resolve
            journalFails = reject
          }),
        }
      },
    },
    limitWatch: { refused: (why) => void refused.push(why) },
    announce: (tasks) => {
      log.push(`announce ${tasks.map((t) => t.id).join(',')}`)
      return new Promise<void>((resolve) => (custody = resolve))
    },
    ended: (id) => ended.has(id),
    control: {
      cancel: async (taskId) => {
        cancelled.push(taskId)
        return { taskId, outcome: ended.has(taskId) ? 'finished' : 'cancelled', owner: 'me' }
      },
    },
  }
  return {
    ...{ p, log, refused, ended, cancelled },
    journalDone: () => journal(),
    journalFails: (err: Error) => journalFails(err),
    custodyDone: () => custody(),
  }
}

const settledYet = async (promise: Promise<void>) => {
  let settled = false
  promise.then(() => (settled = true))
  await afterTurn()
  return settled
}

describe('takeSubmission', () => {
  it('hands the tasks to custody at once; accepted waits for the journal and custody both', async () => {
    const s = parts()
    const { prepared, accepted } = await takeSubmission(s.p, [{}, {}], 'me')
    expect(prepared.map((t) => t.task.id)).toEqual(['t0', 't1'])
    expect(s.log).toEqual(['journal', 'announce t0,t1'])
    s.journalDone()
    expect(await settledYet(accepted)).toBe(false)
    s.custodyDone()
    expect(await settledYet(accepted)).toBe(true)
  })

  it('with custodyAfter, custody and the journal hear only of the tasks still without a result once it settles', async () => {
    const s = parts()
    const after = Promise.withResolvers<void>()
    const { accepted } = await takeSubmission(s.p, [{}, {}, {}], 'me', { custodyAfter: after.promise })
    await afterTurn()
    expect(s.log).toEqual([])
    s.ended.add('t1') // its result came in meanwhile
    after.resolve()
    await afterTurn()
    expect(s.log).toEqual(['journal', 'announce t0,t2'])
    s.journalDone()
    expect(await settledYet(accepted)).toBe(false)
    s.custodyDone()
    expect(await settledYet(accepted)).toBe(true)
  })

  it('custodyGrace settles after its time, or at once when the wait ends', async () => {
    const started = performance.now()
    await custodyGrace(new AbortController().signal, 30)
    expect(performance.now() - started).toBeGreaterThanOrEqual(29)
    const wait = new AbortController()
    const grace = custodyGrace(wait.signal, 60_000)
    expect(await settledYet(grace)).toBe(false)
    wait.abort()
    expect(await settledYet(grace)).toBe(true)
    expect(await settledYet(custodyGrace(AbortSignal.abort(), 60_000))).toBe(true)
  })

  it('a refused submission hands nothing over; a full queue is counted', async () => {
    const full = parts(new QueueFullError('the queue is full'))
    await expect(takeSubmission(full.p, [{}], 'me')).rejects.toThrow(QueueFullError)
    expect(full.log).toEqual([])
    expect(full.refused).toEqual(['queue_full'])
    const bad = parts(new TypeError('bad spec'))
    await expect(takeSubmission(bad.p, [{}], 'me')).rejects.toThrow('bad spec')
    expect(bad.refused).toEqual([])
  })

  it('when the journal cannot be written, cancels the tasks and rejects saying so, its code kept', async () => {
    const s = parts()
    const { accepted } = await takeSubmission(s.p, [{}, {}, {}], 'me')
    s.ended.add('t1') // it ran before the write failed
    const full = Object.assign(new Error('journal /d/tasks.journal: cannot write: ENOSPC'), {
      code: 'ENOSPC',
    })
    s.journalFails(full)
    s.custodyDone()
    const err = await accepted.then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    )
    expect(err?.message).toBe(
      'journal /d/tasks.journal: cannot write: ENOSPC: the submission is not accepted, 2 of its 3 tasks cancelled (1 had ended)',
    )
    expect(err?.code).toBe('ENOSPC')
    expect(err?.cause).toBe(full)
    expect(s.cancelled).toEqual(['t0', 't1', 't2'])
  })
})

import { setImmediate as afterTurn } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { type AcceptanceParts, takeSubmission } from '../../../src/node/owner/acceptance.ts'
import type { PreparedTask } from '../../../src/node/owner/submission.ts'
import { QueueFullError } from '../../../src/task/errors.ts'
import type { Task } from '../../../src/task/task.ts'

/** Stand-ins for the intake, journal and custody, recording what was asked of them and when. */
function parts(refuse?: Error) {
  const log: string[] = []
  const refused: string[] = []
  let journal!: () => void
  let custody!: () => void
  const p: AcceptanceParts = {
    intake: {
      accept: async (specs) => {
        if (refuse !== undefined) throw refuse
        return specs.map((_, i) => ({ task: { id: `t${i}` } as Task }) as PreparedTask)
      },
    },
    limitWatch: { refused: (why) => void refused.push(why) },
    ledger: { journalled: () => new Promise<void>((resolve) => (journal = resolve)) },
    announce: (tasks) => {
      log.push(`announce ${tasks.map((t) => t.id).join(',')}`)
      return new Promise<void>((resolve) => (custody = resolve))
    },
  }
  return { p, log, refused, journalDone: () => journal(), custodyDone: () => custody() }
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
    expect(s.log).toEqual(['announce t0,t1'])
    s.journalDone()
    expect(await settledYet(accepted)).toBe(false)
    s.custodyDone()
    expect(await settledYet(accepted)).toBe(true)
  })

  it('with custodyAfterTurn, custody hears of the tasks only once this turn of the event loop ends', async () => {
    const s = parts()
    const { accepted } = await takeSubmission(s.p, [{}], 'me', { custodyAfterTurn: true })
    await Promise.resolve() // microtasks of this turn run first
    expect(s.log).toEqual([])
    await afterTurn()
    expect(s.log).toEqual(['announce t0'])
    s.journalDone()
    s.custodyDone()
    expect(await settledYet(accepted)).toBe(true)
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
})

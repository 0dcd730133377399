import { describe, expect, it, vi } from 'vitest'
import { GrantSigner } from '../../../src/protocol/records/grant-proof.ts'
import { openResultRecordSync } from '../../../src/protocol/records/result-record.ts'
import { parseTaskSpec } from '../../../src/task/spec.ts'
import {
  fakeJournal,
  OTHER,
  OWNER_ID,
  otherKey,
  ownerKey,
  realTask,
  setup,
  signed,
  sleep,
  stealRequest,
  THIEF,
  task,
  thiefKey,
} from './ledger-fixture.ts'

/** One turn of the event loop: every promise step queued so far has run (no timer, no guessed wait). */
const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('OwnerLedger: failed runs, adoption, local runs, the journal', () => {
  it('ends a task that lost K executors as failed (poison), under an epoch above every lease', async () => {
    const { ledger, queue, counters } = setup(1, { maxExecutorLosses: 3 })
    ledger.take(task('p'))
    let last = 0
    const poisoned = []
    for (let i = 1; i <= 3; i++) {
      last = ledger.grant(`thief-${i}`, stealRequest(1)).leases[0].epoch
      await sleep(3)
      if (i === 2) poisoned.push(...ledger.loseHolder('thief-2').poisoned)
      else poisoned.push(...ledger.expireLeases())
    }
    expect(counters.executorsLost).toBe(3)
    expect(counters.poisoned).toBe(1)
    expect(queue.size).toBe(0) // not requeued a third time
    expect(poisoned).toHaveLength(1)
    const [{ entry, error }] = poisoned
    expect(error).toBe('poison: lost 3 executors')
    expect(entry.task.id).toBe('p')
    expect(entry.epoch).toBeGreaterThan(last)
    ledger.settle('p', entry.epoch)
    expect(ledger.has('p')).toBe(false)
  })

  it('takes a result notice from the lease holder as its completion', () => {
    const { ledger } = setup()
    ledger.take(task('a'))
    const { leases } = ledger.grant('thief', stealRequest(1))
    ledger.noteResult('other', 'a', leases[0].epoch)
    expect(ledger.has('a')).toBe(true)
    ledger.noteResult('thief', 'a', leases[0].epoch - 1)
    expect(ledger.has('a')).toBe(true)
    ledger.noteResult('thief', 'a', leases[0].epoch)
    expect(ledger.has('a')).toBe(false)
  })

  it('an adopted task runs above its takeover floor; a queued one ends on a result from before the takeover', () => {
    const { ledger, queue, counters } = setup()
    ledger.take(task('a'), { as: 'adopted', floor: 1_000 })
    expect(ledger.grant('thief', stealRequest(1)).leases[0].epoch).toBe(1_001)
    ledger.take(task('b'), { as: 'replayed', floor: 1_000 })
    expect(counters).toMatchObject({ accepted: 0, adopted: 1, replayed: 1 })
    // b is queued: an executor of the earlier ownership (epoch 3) stored its result
    ledger.noteResult('old-thief', 'b', 3)
    expect(ledger.has('b')).toBe(false)
    expect(queue.size).toBe(0)
    // a is leased under the new floor: an old result does not end it
    ledger.noteResult('old-thief', 'a', 3)
    expect(ledger.has('a')).toBe(true)
  })

  it('an adopted task’s records validate: the adopter’s own run, its thieves’ under its grants, the dead owner’s thieves’ under the dead owner’s', async () => {
    const { ledger } = setup()
    // OTHER owned the task and died; this ledger's node (OWNER_ID) adopted it as its own
    const orphan = { ...realTask('orphan'), owner: OTHER }
    ledger.take({ ...orphan, owner: OWNER_ID }, { as: 'adopted', floor: 1_000 })
    const [lease] = ledger.grant(THIEF, stealRequest(1)).leases
    const byThief = await signed(thiefKey, orphan.id, lease.epoch, { owner: OWNER_ID, grant: lease.proof })
    expect(openResultRecordSync(byThief.value).executor).toBe(THIEF)
    // the thief handed it back: the adopter runs it itself, and its own record needs no grant
    ledger.release(THIEF, {
      type: 'release',
      requestId: 'x',
      leases: [{ taskId: orphan.id, epoch: lease.epoch }],
    })
    const run = ledger.beginRun(orphan.id)
    expect(run?.epoch).toBeGreaterThan(lease.epoch)
    const byAdopter = await signed(ownerKey, orphan.id, run?.epoch ?? 0)
    expect(openResultRecordSync(byAdopter.value).owner).toBe(OWNER_ID)
    // a thief of the dead owner, still running under its lease, shows the dead owner's proof
    const deadOwner = new GrantSigner(otherKey)
    const old = { owner: OTHER, grant: deadOwner.sign(orphan.id, THIEF, 3) }
    expect(openResultRecordSync((await signed(thiefKey, orphan.id, 3, old)).value).owner).toBe(OTHER)
    // a proof stands for its signer's ownership only, never for the other owner's
    await expect(signed(thiefKey, orphan.id, 3, { ...old, owner: OWNER_ID })).rejects.toThrow(/grant/)
    const swapped = { owner: OTHER, grant: lease.proof }
    await expect(signed(thiefKey, orphan.id, lease.epoch, swapped)).rejects.toThrow(/grant/)
  })

  it('runs an owned task locally under an epoch above every grant', () => {
    const { ledger } = setup()
    ledger.take(task('a'))
    ledger.grant('thief', stealRequest(1))
    ledger.release('thief', { type: 'release', requestId: 'x', leases: [{ taskId: 'a', epoch: 1 }] })
    const entry = ledger.beginRun('a')
    expect(entry?.epoch).toBe(2)
    expect(ledger.get('a')?.state).toBe('running')
    expect(ledger.isCurrent(entry!)).toBe(true)
    expect(ledger.beginRun('unknown')).toBeUndefined()
    ledger.settle('a', 2)
    expect(ledger.size).toBe(0)
    expect(ledger.isCurrent(entry!)).toBe(false)
  })

  it('journals accepted tasks before journalled() resolves, and done once a result exists', async () => {
    const journal = fakeJournal()
    const { ledger, stored, queue } = setup(10_000, { journal })
    ledger.take(task('a'))
    ledger.take(task('b'))
    ledger.take(task('c'), { as: 'replayed' }) // in the journal already
    await ledger.journalled()
    // one call per task taken: the journal groups what comes in one turn into one write (see journal.test.ts)
    expect(journal.accept.mock.calls.map(([tasks]) => tasks.map((t) => t.id))).toEqual([['a'], ['b']])
    // a local run (popped from the queue, as the node's pump does): done once the record is stored
    expect(queue.pop(Date.now(), () => true)?.id).toBe('a')
    ledger.settle('a', ledger.beginRun('a')!.epoch)
    await turn() // every pending promise step has run: done waits for the stored record, not a step
    expect(journal.done).not.toHaveBeenCalled()
    stored('a')
    await vi.waitFor(() => expect(journal.done).toHaveBeenCalledWith(['a']))
    // a notice from the lease holder: done at once (the executor stored the record)
    const { leases } = ledger.grant('thief', stealRequest(1))
    ledger.noteResult('thief', leases[0].taskId, leases[0].epoch)
    await ledger.flushJournal()
    expect(journal.done).toHaveBeenLastCalledWith([leases[0].taskId])
  })

  it('journalLater: an entry once `after` settles for the tasks still open; none, nor a done, for one that ended first', async () => {
    const journal = fakeJournal()
    const { ledger, stored, queue } = setup(10_000, { journal })
    const after = Promise.withResolvers<void>()
    const written = ledger.journalLater([task('quick'), task('slow')], after.promise)
    ledger.take(task('quick'), { journalled: true })
    ledger.take(task('slow'), { journalled: true })
    // 'quick' runs here and its record is stored before the grace is over
    expect(queue.pop(Date.now(), () => true)?.id).toBe('quick')
    ledger.settle('quick', ledger.beginRun('quick')!.epoch)
    stored('quick')
    await turn() // what the stored record sets off has run: still no entry, and no done for 'quick'
    expect(journal.accept).not.toHaveBeenCalled()
    expect(journal.done).not.toHaveBeenCalled()
    after.resolve()
    await written
    expect(journal.accept.mock.calls.map(([tasks]) => tasks.map((t) => t.id))).toEqual([['slow']])
    // 'slow' ends later: its done is written as for any journalled task
    expect(queue.pop(Date.now(), () => true)?.id).toBe('slow')
    ledger.settle('slow', ledger.beginRun('slow')!.epoch)
    stored('slow')
    await ledger.flushJournal()
    await vi.waitFor(() => expect(journal.done.mock.calls).toEqual([[['slow']]]))
  })

  it('journalLater: a task still open is journalled however `after` settles, a rejection too', async () => {
    const journal = fakeJournal()
    const { ledger } = setup(10_000, { journal })
    const after = Promise.withResolvers<void>()
    const written = ledger.journalLater([task('open')], after.promise)
    ledger.take(task('open'), { journalled: true })
    after.reject(new Error('the wait ended badly'))
    await written
    expect(journal.accept.mock.calls.map(([tasks]) => tasks.map((t) => t.id))).toEqual([['open']])
  })

  it('every run joins the attempts: a lost lease, a failed run handed back (retried), a cancelled one', async () => {
    const { ledger } = setup(1)
    for (const id of ['lost', 'back', 'cut']) ledger.take(task(id))
    const leases = ledger.grant('thief', stealRequest(3)).leases
    const epochOf = (id: string) => leases.find((l) => l.taskId === id)!.epoch
    await sleep(3)
    // 'back' comes back with a failed run: retried after a backoff, not lost
    const failedRun = {
      executor: 'forged',
      epoch: 99,
      startedAt: 1,
      finishedAt: 2,
      error: 'boom',
      stack: 'at x',
    }
    const { retries, failed } = ledger.release('thief', {
      type: 'release',
      requestId: 'r',
      leases: [{ taskId: 'back', epoch: epochOf('back'), attempt: failedRun }],
    })
    expect(retries.map((e) => e.task.id)).toEqual(['back'])
    expect(failed).toEqual([])
    // the executor and epoch are the lease's, whatever the holder wrote
    expect(ledger.get('back')?.entry.attempts).toEqual([
      { ...failedRun, executor: 'thief', epoch: epochOf('back') },
    ])
    expect(ledger.get('back')?.state).toBe('retrying')
    expect(ledger.retryNow(ledger.get('back')!.entry)).toBe(true)
    // 'cut' is cancelled while leased: its run is cut short
    const cancelled = ledger.cancel('cut')
    expect(cancelled?.entry.attempts).toMatchObject([
      { executor: 'thief', epoch: epochOf('cut'), cut: 'cancelled' },
    ])
    // 'lost' expires: its run is lost
    ledger.expireLeases()
    const [lost] = ledger.get('lost')!.entry.attempts
    expect(lost).toMatchObject({ executor: 'thief', epoch: epochOf('lost'), cut: 'lost' })
    expect(lost.error).toBe('executor lost: its lease expired')
    expect(lost.startedAt).toBeLessThanOrEqual(lost.finishedAt)
    // the next grant of 'lost' tells the thief its earlier runs
    const again = ledger.grant('thief-2', stealRequest(2)).leases
    expect(again.find((l) => l.taskId === 'lost')?.attempts).toEqual([lost])
  })

  it('a failed run handed back with no attempt left ends the task as failed', () => {
    const { ledger } = setup()
    const one = { ...task('once'), spec: parseTaskSpec({ type: 'echo', input: 'once', maxAttempts: 1 }) }
    ledger.take(one)
    const [lease] = ledger.grant('thief', stealRequest(1)).leases
    const run = { executor: 'thief', epoch: lease.epoch, startedAt: 1, finishedAt: 2, error: 'boom' }
    const { retries, failed } = ledger.release('thief', {
      type: 'release',
      requestId: 'r',
      leases: [{ taskId: 'once', epoch: lease.epoch, attempt: run }],
    })
    expect(retries).toEqual([])
    expect(failed.map((f) => [f.entry.task.id, f.error])).toEqual([['once', 'boom']])
    expect(failed[0].entry.epoch).toBeGreaterThan(lease.epoch)
  })
})

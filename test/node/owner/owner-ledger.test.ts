import { describe, expect, it } from 'vitest'
import { verifyGrantProof } from '../../../src/protocol/records/grant-proof.ts'
import {
  complete,
  OTHER,
  OWNER_ID,
  offer,
  otherKey,
  realTask,
  setup,
  signed,
  sleep,
  stealRequest,
  THIEF,
  task,
  thiefKey,
} from './ledger-fixture.ts'

describe('OwnerLedger: leases and completions', () => {
  it('adopts a task once and queues it as stealable', () => {
    const { queue, counters, ledger } = setup()
    expect(ledger.take(task('a'))).toBe(true)
    expect(ledger.take(task('a'))).toBe(false)
    expect(counters.accepted).toBe(1)
    expect(ledger.size).toBe(1)
    expect(queue.stealableCount).toBe(1)
  })

  it('an offer grants as a steal does, counts nothing until taken, and its leases count by time', () => {
    const { ledger, counters, said } = setup()
    for (const id of ['a', 'b', 'c']) ledger.take(task(id))
    const before = Date.now()
    const grant = ledger.grant('thief', stealRequest(2), { transferCostMs: 0 })
    expect(grant.tasks).toHaveLength(2)
    expect(counters.tasksGranted).toBe(0) // the OfferDesk counts what the peer took
    expect(said('granted').map((e) => e.detail)).toEqual(
      grant.leases.map((l) => ({ to: 'thief', epoch: l.epoch, offered: true })),
    )
    expect(ledger.leasedSince('thief', before)).toBe(2)
    expect(ledger.leasedSince('thief', Date.now() + 1)).toBe(0)
    expect(ledger.leasedSince('nobody', 0)).toBe(0)
    // a move that costs more than this owner's wait is not made
    expect(
      ledger.grant('thief', { ...stealRequest(1), requestId: 'r2' }, { transferCostMs: 1e9 }).tasks,
    ).toEqual([])
  })

  it('grants queued tasks under fresh epochs and renews only the holder’s current lease', () => {
    const { ledger, counters, said } = setup()
    for (const id of ['a', 'b', 'c']) ledger.take(task(id))
    const grant = ledger.grant('thief', stealRequest(2))
    expect(grant.tasks.map((t) => t.id)).toHaveLength(2)
    expect(grant.leases.every((l) => l.epoch === 1)).toBe(true)
    expect(counters.tasksGranted).toBe(2)
    expect(ledger.leasedOut).toBe(2)
    expect(said('granted').map((e) => e.detail)).toEqual(
      grant.leases.map((l) => ({ to: 'thief', epoch: l.epoch })),
    )
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

  it('grants a busy thief the prefetch it asks for beyond its free slots, within the balance rule', () => {
    const { ledger } = setup()
    for (let i = 0; i < 200; i++) ledger.take(task(`t${i}`))
    // every slot of the thief busy: all it asks for is prefetch, to bridge its next steal's round trip
    const busy = { ...stealRequest(40), freeSlots: 0 }
    expect(ledger.grant('thief', busy).tasks).toHaveLength(40)
    // a thief whose queue already holds as much work as the owner's gets nothing more
    const loaded = { ...stealRequest(40), requestId: 'r2', freeSlots: 0, queued: 1_000, queuedWorkMs: 1e7 }
    expect(ledger.grant('thief', loaded).tasks).toHaveLength(0)
  })

  it('leaves a short queue to a fast thief that asked lately rather than grant it to a slow one', () => {
    const slow = { ...stealRequest(4), requestId: 's', speed: 0.25 }
    const alone = setup()
    for (let i = 0; i < 6; i++) alone.ledger.take(task(`t${i}`))
    expect(alone.ledger.grant('slow', slow).tasks.length).toBeGreaterThan(0)
    const { ledger } = setup()
    for (let i = 0; i < 6; i++) ledger.take(task(`t${i}`))
    expect(ledger.grant('fast', { ...stealRequest(1), speed: 4 }).tasks).toHaveLength(1)
    // a task runs 4 × longer there than the mean of this owner and the fast thief
    expect(ledger.grant('slow', slow).tasks).toHaveLength(0)
    // the fast thief still takes what it asks for: the slow one's request adds little beside it
    expect(ledger.grant('fast', { ...stealRequest(2), requestId: 'f2', speed: 4 }).tasks).toHaveLength(2)
  })

  it('counts against a thief only the thieves that run all it runs, and only while they take tasks', () => {
    const slow = (id: string) => ({ ...stealRequest(2), requestId: id, speed: 0.25 })
    const { ledger } = setup()
    for (let i = 0; i < 8; i++) ledger.take(task(`t${i}`))
    // a fast thief that takes nothing leaves the rule as it was
    expect(ledger.grant('idle-fast', { ...stealRequest(0), speed: 4 }).tasks).toHaveLength(0)
    expect(ledger.grant('slow', slow('s1')).tasks).toHaveLength(2)
    // one that takes tasks counts against a slow thief that runs no more than it does
    expect(ledger.grant('fast', { ...stealRequest(1), requestId: 'f', speed: 4 }).tasks).toHaveLength(1)
    expect(ledger.grant('slow', slow('s2')).tasks).toHaveLength(0)
    // not against one that runs a handler type the fast one lacks: it may take what only it runs
    const special = { ...slow('s3'), offer: { ...offer, types: [...offer.types, 'special'] } }
    expect(ledger.grant('slow', special).tasks).toHaveLength(2)
  })

  it('signs every lease it grants: the proof names that task, that holder and that epoch', () => {
    const { ledger } = setup()
    for (const id of ['a', 'b']) ledger.take(task(id))
    const { leases } = ledger.grant('thief', stealRequest(2))
    expect(leases).toHaveLength(2)
    for (const l of leases) {
      expect(verifyGrantProof(OWNER_ID, l.taskId, 'thief', l.epoch, l.proof)).toBe(true)
      expect(verifyGrantProof(OWNER_ID, l.taskId, 'other', l.epoch, l.proof)).toBe(false)
      expect(verifyGrantProof(OWNER_ID, l.taskId, 'thief', l.epoch + 1, l.proof)).toBe(false)
    }
    expect(verifyGrantProof(OWNER_ID, leases[1].taskId, 'thief', leases[1].epoch, leases[0].proof)).toBe(
      false,
    )
  })

  it('accepts the holder’s completion, calls another peer’s stale, and forgets the task', async () => {
    const { ledger } = setup()
    const a = realTask('a')
    ledger.take(a)
    const { leases } = ledger.grant(THIEF, stealRequest(1))
    const { base64 } = await signed(thiefKey, a.id, leases[0].epoch)
    const completion = { taskId: a.id, epoch: leases[0].epoch, status: 'succeeded' as const, record: base64 }
    expect((await ledger.complete(OTHER, complete([completion]))).outcomes).toEqual([
      { taskId: a.id, outcome: 'stale' },
    ])
    // a completion without its record ends nothing: the owner would hold no result of the task
    const { record: _, ...bare } = completion
    expect((await ledger.complete(THIEF, complete([bare]))).outcomes).toEqual([
      { taskId: a.id, outcome: 'stale' },
    ])
    expect(ledger.has(a.id)).toBe(true)
    expect((await ledger.complete(THIEF, complete([completion]))).outcomes).toEqual([
      { taskId: a.id, outcome: 'accepted' },
    ])
    expect(ledger.has(a.id)).toBe(false)
    expect(ledger.leasedOut).toBe(0)
    // a repeated report of the accepted completion is still accepted; any other epoch is stale
    expect((await ledger.complete(THIEF, complete([completion]))).outcomes[0].outcome).toBe('accepted')
    expect((await ledger.complete(THIEF, complete([{ ...completion, epoch: 7 }]))).outcomes[0].outcome).toBe(
      'stale',
    )
    expect((await ledger.complete(THIEF, complete([{ ...completion, taskId: 'zz' }]))).outcomes[0]).toEqual({
      taskId: 'zz',
      outcome: 'unknown',
    })
  })

  it('keeps the record of the lease holder’s completion, never one from a peer that did not hold the lease', async () => {
    const { ledger, keep, admits, roots } = setup()
    const a = realTask('a')
    ledger.take(a)
    const { leases } = ledger.grant(THIEF, stealRequest(1))
    const epoch = leases[0].epoch
    // another peer's validly signed record of the same epoch: stale, not kept
    const foreign = await signed(otherKey, a.id, epoch)
    const stale = await ledger.complete(
      OTHER,
      complete([{ taskId: a.id, epoch, status: 'succeeded', record: foreign.base64 }]),
    )
    expect(stale.outcomes[0].outcome).toBe('stale')
    expect(keep).not.toHaveBeenCalled()
    expect(ledger.has(a.id)).toBe(true)
    // the holder's completion carrying a record signed by someone else completes nothing
    const forged = await ledger.complete(
      THIEF,
      complete([{ taskId: a.id, epoch, status: 'succeeded', record: foreign.base64 }]),
    )
    expect(forged.outcomes[0].outcome).toBe('stale')
    expect(ledger.has(a.id)).toBe(true)
    // the holder's own record: accepted, then kept (as the accepted record: it wakes the waiters)
    const atKeep: boolean[] = []
    keep.mockImplementation(async (r) => {
      atKeep.push(ledger.has(r.taskId), admits(r))
    })
    const own = await signed(thiefKey, a.id, epoch)
    const ok = await ledger.complete(
      THIEF,
      complete([{ taskId: a.id, epoch, status: 'succeeded', record: own.base64 }]),
    )
    expect(ok.outcomes[0].outcome).toBe('accepted')
    expect(keep).toHaveBeenCalledOnce()
    expect(keep.mock.calls[0][0]).toMatchObject({ taskId: a.id, executor: THIEF, epoch })
    expect(atKeep).toEqual([false, true])
    // the foreign record's signature was checked; the holder's own came on its stream, on its word
    expect(roots.counts).toMatchObject({ recordBatchesVerified: 1, recordsFromSigner: 1 })
  })

  it('answers a completion without waiting for the local write of the record it keeps', async () => {
    const { ledger, keep } = setup()
    const a = realTask('a')
    ledger.take(a)
    const { epoch } = ledger.grant(THIEF, stealRequest(1)).leases[0]
    // a group commit not yet made: a verdict that waited for it would never come
    keep.mockImplementation(() => new Promise<void>(() => undefined))
    const own = await signed(thiefKey, a.id, epoch)
    const reply = await ledger.complete(
      THIEF,
      complete([{ taskId: a.id, epoch, status: 'succeeded', record: own.base64 }]),
    )
    expect(reply.outcomes).toEqual([{ taskId: a.id, outcome: 'accepted' }])
    expect(keep).toHaveBeenCalledOnce()
    expect(ledger.has(a.id)).toBe(false) // settled: the task is done here
  })

  it('admits only the live lease’s record for an owned task, and nothing older than the accepted epoch once settled', async () => {
    const { ledger, admits } = setup(1)
    const a = realTask('a')
    ledger.take(a)
    const first = ledger.grant(THIEF, stealRequest(1)).leases[0]
    const late = (await signed(thiefKey, a.id, first.epoch)).record
    expect(admits(late)).toBe(true)
    await sleep(5)
    ledger.expireLeases() // the lease ran out: the holder's record of that epoch is stale now
    expect(admits(late)).toBe(false)
    const second = ledger.grant(OTHER, stealRequest(1)).leases[0]
    expect(second.epoch).toBeGreaterThan(first.epoch)
    const current = (await signed(otherKey, a.id, second.epoch)).record
    expect(admits(current)).toBe(true)
    ledger.noteResult(OTHER, a.id, second.epoch)
    expect(ledger.has(a.id)).toBe(false)
    expect(admits(late)).toBe(false)
    expect(admits(current)).toBe(true)
    // a task never owned here: anything (this node only reads it)
    expect(admits({ ...late, taskId: realTask('elsewhere').id })).toBe(true)
  })

  it('requeues a released lease and an expired one', async () => {
    const { ledger, queue, counters, said } = setup(1)
    ledger.take(task('a'))
    ledger.take(task('b'))
    const { leases } = ledger.grant('thief', stealRequest(2))
    expect(queue.size).toBe(0)
    const { reply: released } = ledger.release('thief', {
      type: 'release',
      requestId: 'x',
      leases: [{ taskId: leases[0].taskId, epoch: leases[0].epoch }],
    })
    expect(released.released).toEqual([leases[0].taskId])
    expect(queue.size).toBe(1)
    await sleep(5)
    ledger.expireLeases()
    expect(counters.leasesExpired).toBe(1)
    expect(counters.executorsLost).toBe(1) // a release is not a loss
    expect(queue.size).toBe(2)
    expect(said('released').map((e) => e.taskId)).toEqual([leases[0].taskId])
    expect(said('lease-expired').map((e) => e.taskId)).toEqual([leases[1].taskId])
    expect(ledger.get(leases[1].taskId)?.state).toBe('queued')
  })

  it('takes back at once every lease a dead holder held', () => {
    const { ledger, queue, counters } = setup()
    for (const id of ['a', 'b']) ledger.take(task(id))
    ledger.grant('thief', stealRequest(2))
    expect(ledger.loseHolder('someone-else').lost).toBe(0)
    expect(ledger.loseHolder('thief')).toEqual({ lost: 2, poisoned: [] })
    expect(ledger.leasedOut).toBe(0)
    expect(queue.size).toBe(2)
    expect(counters.executorsLost).toBe(2)
    expect(ledger.lossesOf('a')).toBe(1)
  })
})

import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { createNodeCounters } from '../../../src/node/node-counters.ts'
import { OwnerLedger, type OwnerLedgerOptions } from '../../../src/node/owner/owner-ledger.ts'
import type { Admission } from '../../../src/node/results/result-store.ts'
import { LocalQueue } from '../../../src/node/run/local-queue.ts'
import { type TaskEvent, TaskEvents } from '../../../src/node/story/task-events.ts'
import { DurationEstimator } from '../../../src/policy/capacity.ts'
import { DEFAULT_AGING } from '../../../src/policy/priority.ts'
import type { CompleteRequest, StealRequest } from '../../../src/protocol/messages/messages.ts'
import { GrantSigner, verifyGrantProof } from '../../../src/protocol/records/grant-proof.ts'
import {
  openResultRecordSync,
  type ResultRecord,
  signResultRecord,
} from '../../../src/protocol/records/result-record.ts'
import { parseTaskSpec } from '../../../src/task/spec.ts'
import type { Task } from '../../../src/task/task.ts'
import { taskId } from '../../../src/task/task-id.ts'

const offer = { types: ['echo'], labels: [], slots: 4, memoryMb: 1024 }
/** The owner's key: it signs the grant proof of every lease. */
const ownerKey = await generateKeyPair('Ed25519')
const OWNER_ID = peerIdFromPrivateKey(ownerKey).toString()
const grants = new GrantSigner(ownerKey)

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

/** A task with a real content id (signed records name it). */
function realTask(name: string): Task {
  const spec = parseTaskSpec({ type: 'echo', input: name })
  return { ...task(name), id: taskId(spec, 'me', name), spec }
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function setup(leaseTtlMs = 10_000, extra: Partial<OwnerLedgerOptions> = {}) {
  const queue = new LocalQueue({
    policy: DEFAULT_AGING,
    estimator: new DurationEstimator(),
    canRunHere: () => true,
    runningWorkMs: () => 0,
  })
  const counters = createNodeCounters()
  const events = new TaskEvents()
  const told: TaskEvent[] = []
  events.on((e) => told.push(e))
  /** What the ledger told of, by event name. */
  const said = (event: string) => told.filter((e) => e.event === event)
  const keep = vi.fn(async (_r: ResultRecord, _v: Uint8Array) => {})
  const stored = new Map<string, () => void>()
  let rule: Admission = () => true
  const results = {
    keep,
    whenStored: (id: string) => new Promise<void>((resolve) => stored.set(id, resolve)),
    admit: (r: Admission) => {
      rule = r
    },
    open: (value: Uint8Array, k?: Uint8Array) => openResultRecordSync(value, k),
  }
  const ledger = new OwnerLedger({
    self: OWNER_ID,
    queue,
    results,
    counters,
    leaseTtlMs,
    slots: 1,
    speed: 1,
    events,
    grants,
    ...extra,
  })
  return {
    queue,
    counters,
    ledger,
    said,
    keep,
    admits: (r: ResultRecord) => rule(r),
    stored: (id: string) => stored.get(id)?.(),
  }
}

function fakeJournal() {
  return {
    accept: vi.fn(async (_tasks: Task[]) => {}),
    done: vi.fn(async (_ids: string[]) => {}),
    replay: vi.fn(async () => [] as Task[]),
    flush: vi.fn(async () => {}),
    attempt: vi.fn(async (_id: string, _attempt: unknown) => {}),
    attemptsOf: vi.fn((_id: string) => []),
  }
}

const complete = (completions: CompleteRequest['completions']): CompleteRequest => ({
  type: 'complete',
  requestId: 'c',
  completions,
})

/**
 * A signed result record of task `id` by `key`'s peer at `epoch`, as a completion carries it; the
 * executor is its owner unless `lease` names another owner and that owner's grant proof.
 */
async function signed(
  key: PrivateKey,
  id: string,
  epoch: number,
  lease: Partial<Pick<ResultRecord, 'owner' | 'grant'>> = {},
) {
  const executor = peerIdFromPrivateKey(key).toString()
  const record: ResultRecord = {
    v: 1,
    taskId: id,
    status: 'succeeded',
    output: id,
    executor,
    owner: executor,
    epoch,
    attempts: [{ executor, epoch, startedAt: 1, finishedAt: 2 }],
    submittedAt: 0,
    startedAt: 1,
    finishedAt: 2,
    ...lease,
  }
  const value = await signResultRecord(record, key)
  return { record, value, base64: Buffer.from(value).toString('base64') }
}

describe('OwnerLedger', () => {
  let thiefKey: PrivateKey
  let otherKey: PrivateKey
  let THIEF: string
  let OTHER: string
  beforeAll(async () => {
    thiefKey = await generateKeyPair('Ed25519')
    otherKey = await generateKeyPair('Ed25519')
    THIEF = peerIdFromPrivateKey(thiefKey).toString()
    OTHER = peerIdFromPrivateKey(otherKey).toString()
  })

  it('adopts a task once and queues it as stealable', () => {
    const { queue, counters, ledger } = setup()
    expect(ledger.take(task('a'))).toBe(true)
    expect(ledger.take(task('a'))).toBe(false)
    expect(counters.accepted).toBe(1)
    expect(ledger.size).toBe(1)
    expect(queue.stealableCount).toBe(1)
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
    ledger.take(task('a'))
    const { leases } = ledger.grant('thief', stealRequest(1))
    const completion = { taskId: 'a', epoch: leases[0].epoch, status: 'succeeded' as const }
    expect((await ledger.complete('other', complete([completion]))).outcomes).toEqual([
      { taskId: 'a', outcome: 'stale' },
    ])
    expect((await ledger.complete('thief', complete([completion]))).outcomes).toEqual([
      { taskId: 'a', outcome: 'accepted' },
    ])
    expect(ledger.has('a')).toBe(false)
    expect(ledger.leasedOut).toBe(0)
    // a repeated report of the accepted completion is still accepted; any other epoch is stale
    expect((await ledger.complete('thief', complete([completion]))).outcomes[0].outcome).toBe('accepted')
    expect(
      (await ledger.complete('thief', complete([{ ...completion, epoch: 7 }]))).outcomes[0].outcome,
    ).toBe('stale')
    expect((await ledger.complete('thief', complete([{ ...completion, taskId: 'zz' }]))).outcomes[0]).toEqual(
      {
        taskId: 'zz',
        outcome: 'unknown',
      },
    )
  })

  it('keeps the record of the lease holder’s completion, never one from a peer that did not hold the lease', async () => {
    const { ledger, keep, admits } = setup()
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
    await sleep(1)
    expect(journal.done).not.toHaveBeenCalled()
    stored('a')
    await sleep(1)
    expect(journal.done).toHaveBeenCalledWith(['a'])
    // a notice from the lease holder: done at once (the executor stored the record)
    const { leases } = ledger.grant('thief', stealRequest(1))
    ledger.noteResult('thief', leases[0].taskId, leases[0].epoch)
    await ledger.flushJournal()
    expect(journal.done).toHaveBeenLastCalledWith([leases[0].taskId])
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

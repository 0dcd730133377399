import { describe, expect, it, vi } from 'vitest'
import { createNodeCounters } from '../../../src/node/node-counters.ts'
import { type TaskEvent, TaskEvents } from '../../../src/node/story/task-events.ts'
import { Thief } from '../../../src/node/thief/thief.ts'
import type { PeerCapacity } from '../../../src/policy/types.ts'
import { parseTaskSpec } from '../../../src/task/spec.ts'
import type { Task } from '../../../src/task/task.ts'
import { plainQueue } from '../plain-queue.ts'

const offer = { types: ['echo'], labels: [], slots: 2, memoryMb: 1024 }

function task(id: string, type = 'echo'): Task {
  return {
    id,
    spec: parseTaskSpec({ type, input: id }),
    submitter: 's',
    nonce: id,
    owner: 'v',
    submittedAt: 0,
  }
}

function victim(peerId: string): PeerCapacity {
  return {
    peerId,
    types: ['echo'],
    labels: [],
    slots: 1,
    memoryMb: 1024,
    running: 1,
    queued: 50,
    queuedWorkMs: 50_000,
    speed: 1,
    updatedAt: Date.now(),
  }
}

function setup(reply: (peer: string, req: { type: string }) => unknown, admits?: (owner: string) => boolean) {
  const queue = plainQueue()
  const counters = createNodeCounters()
  const request = vi.fn(async (peer: string, req: { type: string }) => reply(peer, req))
  const runner = { freeSlots: 2, cancel: vi.fn(() => true), isRunning: vi.fn((_id: string) => false) }
  const events = new TaskEvents()
  const told: TaskEvent[] = []
  events.on((e) => told.push(e))
  const leases: string[] = []
  const thief = new Thief({
    steal: { request } as never,
    queue,
    runner,
    peers: { list: () => [victim('v')] },
    offer,
    slots: 2,
    speed: 1,
    random: () => 0,
    counters,
    isRunning: () => true,
    owns: (id) => id === 'mine',
    ...(admits === undefined ? {} : { admits }),
    events,
    onLease: (owner, id, epoch, proof) => leases.push(`${owner} ${id} ${epoch} ${proof === PROOF}`),
  })
  return { thief, queue, counters, request, runner, told, leases }
}

/** A grant proof's shape (the thief carries it into its record; the DHT checks it). */
const PROOF = `${'A'.repeat(86)}==`

const grantOf = (tasks: Task[], ttlMs = 10_000) => ({
  type: 'grant',
  requestId: 'g',
  tasks,
  leases: tasks.map((t) => ({ taskId: t.id, epoch: 3, expiresAt: 0, proof: PROOF })),
  ttlMs,
})

describe('Thief', () => {
  it('steals from a loaded peer: holds what it can run, queued as not stealable', async () => {
    const { thief, queue, counters, told, leases } = setup(() =>
      grantOf([task('a'), task('mine'), task('gpu', 'gpu-job')]),
    )
    await thief.maybeSteal()
    expect(counters.stealRequests).toBe(1)
    expect(counters.tasksStolen).toBe(1)
    expect(thief.holds('a')).toBe(true)
    expect(thief.entry('a')?.epoch).toBe(3)
    expect(thief.holds('mine')).toBe(false)
    expect(queue.size).toBe(1)
    expect(queue.stealableCount).toBe(0)
    expect(told.map((e) => [e.taskId, e.event, e.detail])).toEqual([['a', 'stolen', { from: 'v', epoch: 3 }]])
    // the owner's proof of the lease it took, for the record it will sign (the declined ones: none)
    expect(leases).toEqual(['v a 3 true'])
    expect(thief.settle('a')).toBe('v')
    expect(thief.size).toBe(0)
  })

  it('hands back at once the granted tasks it declines (cannot run, or owns)', async () => {
    const { thief, request } = setup((_, req) =>
      req.type === 'steal'
        ? grantOf([task('a'), task('mine'), task('gpu', 'gpu-job')])
        : { type: 'released', requestId: 'x', released: ['mine', 'gpu'] },
    )
    await thief.maybeSteal()
    await vi.waitFor(() => expect(request).toHaveBeenCalledTimes(2))
    expect(request).toHaveBeenLastCalledWith(
      'v',
      expect.objectContaining({
        type: 'release',
        leases: [
          { taskId: 'mine', epoch: 3 },
          { taskId: 'gpu', epoch: 3 },
        ],
      }),
      1_000,
    )
    expect(thief.holds('a')).toBe(true)
  })

  it('a newer lease from the same owner on a task it holds replaces the old one (whose run is cancelled)', async () => {
    let epoch = 3
    const { thief, runner, request } = setup((_, req) =>
      req.type === 'steal'
        ? { ...grantOf([task('a')]), leases: [{ taskId: 'a', epoch, expiresAt: 0, proof: PROOF }] }
        : { type: 'released', requestId: 'x', released: [] },
    )
    await thief.maybeSteal()
    const old = thief.entry('a')!
    expect(thief.isCurrent(old)).toBe(true)
    epoch = 5
    await thief.maybeSteal()
    expect(thief.entry('a')?.epoch).toBe(5)
    expect(thief.isCurrent(old)).toBe(false)
    expect(runner.cancel).toHaveBeenCalledWith('a', 'lease revoked')
    // the same epoch again is a duplicate (an offer seen twice): the held lease stays, and nothing
    // is handed back — a release of that epoch would make the owner requeue what runs here
    const current = thief.entry('a')
    await thief.maybeSteal()
    expect(thief.entry('a')).toBe(current)
    expect(request.mock.calls.some(([, r]) => r.type === 'release')).toBe(false)
  })

  it('does not ask a victim that granted nothing again until it beacons queued work', async () => {
    const { thief, request } = setup(() => grantOf([]))
    await thief.maybeSteal()
    await thief.maybeSteal()
    expect(request).toHaveBeenCalledTimes(1)
    thief.onPeerBeacon('v', 5)
    await vi.waitFor(() => expect(request).toHaveBeenCalledTimes(2))
  })

  it("sizes its prefetch by the victim's mean task work until it has timed a run of its own", async () => {
    // the victim's beacon: 50 queued, 50 s of work — tasks of 1 s each
    let clock = 0
    const now = vi.spyOn(performance, 'now').mockImplementation(() => clock)
    try {
      let n = 0
      const { thief, request, runner } = setup(() => {
        if (n++ === 0) clock += 5_000 // the first steal's round trip: 5 s, a loaded mesh
        return grantOf([task(`t${n}`)])
      })
      runner.freeSlots = 0
      await thief.maybeSteal()
      await thief.maybeSteal()
      const asked = () => (request.mock.lastCall as unknown as [string, { max: number }])[1].max
      // 2 × 1 s round trip of 1 s tasks: 3 rounds of 2 slots, not the 32 rounds a 50 ms guess gave
      expect(asked()).toBe(6)
      // once its own runs took 10 ms, the same round trip is bridged by the most rounds
      thief.observeTaskMs(10)
      await thief.maybeSteal()
      expect(asked()).toBeGreaterThan(20)
    } finally {
      now.mockRestore()
    }
  })

  it('renews leases at a third of their time and drops the ones the owner rejects', async () => {
    // the lease clock (monotonicNow) is the test's: no real time passes between the steps
    vi.useFakeTimers({ toFake: ['performance'] })
    try {
      const { thief, queue, runner, request } = setup((_, req) =>
        req.type === 'steal'
          ? grantOf([task('a'), task('b')], 300)
          : { type: 'renewed', requestId: 'r', accepted: ['a'], rejected: ['b'] },
      )
      await thief.maybeSteal()
      await thief.renewLeases()
      expect(request).toHaveBeenCalledTimes(1) // fresh leases are not renewed yet
      vi.advanceTimersByTime(99)
      await thief.renewLeases()
      expect(request).toHaveBeenCalledTimes(1) // nor just short of a third of their 300 ms
      vi.advanceTimersByTime(1)
      await thief.renewLeases()
      expect(request).toHaveBeenCalledTimes(2)
      expect(thief.holds('a')).toBe(true)
      expect(thief.holds('b')).toBe(false)
      expect(queue.size).toBe(1)
      expect(runner.cancel).toHaveBeenCalledWith('b', 'lease revoked')
    } finally {
      vi.useRealTimers()
    }
  })

  it('hands unstarted leases back to their owner in one request', async () => {
    const { thief, runner, request } = setup((_, req) =>
      req.type === 'steal'
        ? grantOf([task('a'), task('b')])
        : { type: 'released', requestId: 'x', released: [] },
    )
    await thief.maybeSteal()
    runner.isRunning.mockImplementation((id: string) => id === 'a')
    await thief.releaseUnstarted()
    expect(request).toHaveBeenLastCalledWith(
      'v',
      expect.objectContaining({ type: 'release', leases: [{ taskId: 'b', epoch: 3 }] }),
      1_000,
    )
  })
  it('renews and hands back at most 1,000 leases per request, as the owner takes them', async () => {
    const many = Array.from({ length: 2_500 }, (_, i) => task(`t${i}`))
    const { thief, runner, request } = setup((_, req) =>
      req.type === 'steal'
        ? grantOf(many, 300)
        : req.type === 'renew'
          ? { type: 'renewed', requestId: 'r', accepted: [], rejected: [] }
          : { type: 'released', requestId: 'x', released: [] },
    )
    runner.freeSlots = 2_500
    vi.useFakeTimers({ toFake: ['performance'] })
    try {
      await thief.maybeSteal()
      expect(thief.size).toBe(2_500)
      vi.advanceTimersByTime(120) // past a third of the 300 ms leases: all due
      await thief.renewLeases()
      const sizes = (type: string) =>
        request.mock.calls
          .map(([, req]) => req as { type: string; leases?: unknown[] })
          .filter((req) => req.type === type)
          .map((req) => req.leases?.length)
      expect(sizes('renew')).toEqual([1_000, 1_000, 500])
      await thief.releaseUnstarted()
      expect(sizes('release')).toEqual([1_000, 1_000, 500])
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('Thief.takeOffer (steal 1.1)', () => {
  const offerOf = (tasks: Task[]) => ({ ...grantOf(tasks), type: 'offer' as const, requestId: 'o' })

  it('takes what its free slots have room for beside its queue and declines the rest, without a release', () => {
    const { thief, queue, counters, request } = setup(() => grantOf([]))
    // 2 free slots, nothing queued: room for 2 (a prefetch beyond them is its own steals' business)
    const tasks = ['a', 'b', 'c', 'd'].map((id) => task(id))
    const reply = thief.takeOffer('v', offerOf(tasks))
    expect(reply).toEqual({ type: 'offered', requestId: 'o', accepted: ['a', 'b'], declined: ['c', 'd'] })
    expect(queue.size).toBe(2)
    expect(thief.holds('a')).toBe(true)
    expect(thief.holds('c')).toBe(false)
    // with those 2 queued (their slots not taken yet), a second offer finds no room
    expect(thief.takeOffer('v', { ...offerOf([task('e')]), requestId: 'o2' })).toMatchObject({
      declined: ['e'],
    })
    expect(counters.offersTaken).toBe(1)
    expect(counters.tasksStolen).toBe(2)
    expect(counters.stealsGranted).toBe(0)
    // the owner learns of the declined ones from the answer: nothing is sent to it
    expect(request).not.toHaveBeenCalled()
  })

  it('declines what it cannot run, owns or was offered by another than its owner', () => {
    const { thief, counters } = setup(() => grantOf([]))
    const reply = thief.takeOffer('v', offerOf([task('gpu', 'gpu-job'), task('mine'), task('a')]))
    expect(reply).toMatchObject({ type: 'offered', accepted: ['a'], declined: ['gpu', 'mine'] })
    const foreign = thief.takeOffer('w', offerOf([task('b')])) // b's owner is v
    expect(foreign).toMatchObject({ type: 'offered', accepted: [], declined: ['b'] })
    expect(counters.offersTaken).toBe(1)
  })

  it('refuses the whole offer of an owner its allow-list leaves out, and holds nothing', () => {
    const { thief, queue, counters } = setup(
      () => grantOf([]),
      (owner) => owner !== 'v',
    )
    expect(thief.takeOffer('v', offerOf([task('a')]))).toMatchObject({
      type: 'error',
      requestId: 'o',
      code: 'ERR_NOT_ALLOWED',
    })
    expect(thief.holds('a')).toBe(false)
    expect(queue.size).toBe(0)
    expect(counters.offersTaken).toBe(0)
  })

  it('an offer seen twice is taken once: the held lease counts as accepted', () => {
    const { thief, queue } = setup(() => grantOf([]))
    const offered = offerOf([task('a')])
    expect(thief.takeOffer('v', offered)).toMatchObject({ accepted: ['a'] })
    const entry = thief.entry('a')
    expect(thief.takeOffer('v', offered)).toMatchObject({ accepted: ['a'], declined: [] })
    expect(thief.entry('a')).toBe(entry)
    expect(queue.size).toBe(1)
  })
})

import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { LivenessWatch } from '../../../src/node/peers/liveness-watch.ts'
import { ADOPTION_LOOKUP_TRIES, Custodian } from '../../../src/node/recovery/custodian.ts'
import { JournalReplay } from '../../../src/node/recovery/journal-replay.ts'
import { successorOf } from '../../../src/node/recovery/successor.ts'
import type { AskKnown } from '../../../src/node/recovery/successor-check.ts'
import { openResultRecordSync, type ResultRecord } from '../../../src/protocol/records/result-record.ts'
import type { Task } from '../../../src/task/task.ts'
import { makeRecord, makeTask } from '../../protocol/fixtures.ts'

const peers: string[] = []
beforeAll(async () => {
  for (let i = 0; i < 4; i++) peers.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
})

function fakes(
  self: string,
  opts: {
    found?: Set<string>
    journal?: Task[]
    stored?: Set<string>
    failing?: Map<string, number>
    ask?: AskKnown
    /** Tasks this node runs under a lease. */
    leased?: Set<string>
  } = {},
) {
  const owned = new Map<string, { task: Task; as?: string; floor?: number }>()
  const ledger = {
    take: vi.fn((task: Task, o: { as?: string; floor?: number } = {}) => {
      if (owned.has(task.id)) return false
      owned.set(task.id, { task, ...o })
      return true
    }),
    has: (id: string) => owned.has(id),
    loseHolder: vi.fn((_peer: string) => ({ lost: 0, poisoned: [] })),
    markDone: vi.fn(),
    journalled: vi.fn(async () => {}),
    journalTasks: vi.fn(async () => opts.journal ?? []),
  }
  const record = (id: string) => makeRecord({ taskId: id }) as ResultRecord
  const results = {
    cached: () => undefined,
    open: (value: Uint8Array, k?: Uint8Array) => openResultRecordSync(value, k),
    supersededBy: () => false,
    accept: vi.fn(),
    refresh: vi.fn(),
    get: vi.fn(async (id: string) => {
      const failures = opts.failing?.get(id) ?? 0
      if (failures > 0) {
        opts.failing?.set(id, failures - 1)
        throw new Error('query timed out')
      }
      return opts.found?.has(id) ? record(id) : undefined
    }),
    local: vi.fn(async (id: string) => (opts.stored?.has(id) ? record(id) : undefined)),
  }
  const listeners = new Map<string, (evt: unknown) => void>()
  const libp2p = {
    addEventListener: (name: string, fn: (evt: unknown) => void) => listeners.set(name, fn),
    removeEventListener: () => undefined,
  }
  const announce = vi.fn(async (_tasks: Task[]) => {})
  const onOwned = vi.fn()
  // wired as the node wires them (src/node/assemble.ts): liveness judges, the adopter adopts, the replay requeues
  const liveness = new LivenessWatch({
    self,
    libp2p: libp2p as never,
    failureDetectionMs: 1_000,
    beaconIntervalMs: 100,
    onDead: (peer) => ledger.loseHolder(peer),
  })
  const adoption = new Custodian({
    ...{ self, liveness, ledger, results, hold: announce },
    own: (task, how) => ledger.take(task, how),
    thief: { holds: (id: string) => opts.leased?.has(id) === true },
    failureDetectionMs: 1_000,
    onAdopted: (tasks, why) => onOwned(tasks, 'adopted', why),
    ask: opts.ask,
  })
  liveness.watch({ onCheck: (changed) => adoption.onCheck(changed) })
  const replay = new JournalReplay({
    ...{ self, ledger, results },
    withoutResult: (tasks) => adoption.openOf(tasks),
    requeue: async (tasks) => {
      onOwned(tasks, 'replayed')
      await announce(tasks)
    },
    waitForPeersMs: 1_000,
  })
  const adopter = {
    async start() {
      liveness.start()
      await replay.start()
    },
    onBeacon(from: string, _msg: never) {
      liveness.heard(from)
      replay.onPeerHeard()
    },
    /** `from` hands this node the specs of its tasks, naming `custodians` (this node among them). */
    onHold: (from: string, tasks: Task[], custodians: string[]) =>
      adoption.handle(from, {
        type: 'hold',
        requestId: 'h',
        custodians: custodians.map((peerId) => ({ peerId, addrs: [] })),
        tasks,
      }),
    /** `from` says these tasks have results now. */
    onDrop: (from: string, ids: string[]) => adoption.handle(from, { type: 'drop', requestId: 'd', ids }),
    /** A fellow custodian `from` asks which of `owner`'s tasks this node knows. */
    onQuery: (from: string, owner: string, ids: string[]) =>
      adoption.handle(from, { type: 'query', requestId: 'q', owner, ids }),
    /** `from` started again: what its earlier life handed this node is void. */
    onForget: (from: string) => adoption.handle(from, { type: 'forget', requestId: 'f' }),
    get remembered() {
      return adoption.guarded
    },
    stop() {
      liveness.stop()
      adoption.stop()
      replay.stop()
    },
  }
  const disconnect = (peer: string) =>
    listeners.get('peer:disconnect')?.({ detail: { toString: () => peer } })
  return { adopter, ledger, results, announce, onOwned, owned, disconnect }
}

/**
 * `self` guards `tasks` of `owner` with `other` as fellow custodian, and asks it with `ask`; the
 * owner's connection drops while `other` keeps beaconing, for half a second (fake timers).
 */
async function ownerDiesHolding(tasks: Task[], [self, owner, other]: string[], ask: AskKnown) {
  const made = fakes(self, { ask })
  const { adopter, disconnect } = made
  await adopter.start()
  adopter.onBeacon(owner, {} as never)
  adopter.onBeacon(other, {} as never)
  adopter.onHold(owner, tasks, [self, other])
  disconnect(owner)
  for (let i = 0; i < 5; i++) {
    await vi.advanceTimersByTimeAsync(100)
    adopter.onBeacon(other, {} as never)
  }
  return made
}

describe('Adopter', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('adopts, as its own, the tasks of a dead owner it is the successor of and no result exists for', async () => {
    vi.useFakeTimers()
    const [self, owner, other] = peers
    const tasks = Array.from({ length: 12 }, (_, n) => makeTask(200 + n, owner))
    const mine = tasks.filter((t) => successorOf(t.id, [self, other]) === self)
    const done = mine[0]
    const { adopter, ledger, results, announce, onOwned, owned, disconnect } = fakes(self, {
      found: new Set([done.id]),
    })
    await adopter.start()
    adopter.onBeacon(owner, {} as never)
    adopter.onBeacon(other, {} as never)
    adopter.onHold(owner, tasks, [self, other])
    expect(adopter.remembered).toBe(12)

    // the owner's connection drops; the other peer keeps beaconing
    disconnect(owner)
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(100)
      adopter.onBeacon(other, {} as never)
    }
    expect(ledger.loseHolder).toHaveBeenCalledWith(owner)
    // the DHT is asked about each task this node is the successor of, and only those
    expect(results.get.mock.calls.map(([id]) => id).sort()).toEqual(mine.map((t) => t.id).sort())
    const adopted = mine.filter((t) => t !== done)
    expect([...owned.keys()].sort()).toEqual(adopted.map((t) => t.id).sort())
    for (const { task, as, floor } of owned.values()) {
      expect(task.owner).toBe(self)
      expect(as).toBe('adopted')
      expect(floor).toBeGreaterThan(0)
    }
    expect(announce).toHaveBeenCalledOnce()
    expect(announce.mock.calls[0][0].every((t) => t.owner === self)).toBe(true)
    expect(onOwned).toHaveBeenCalledWith(expect.any(Array), 'adopted', expect.any(Map))
    adopter.stop()
  })

  it('a failed lookup is no evidence of a missing result: adoption waits for later sweeps, and adopts after the last try', async () => {
    vi.useFakeTimers()
    const [self, owner, other] = peers
    const tasks = Array.from({ length: 12 }, (_, n) => makeTask(500 + n, owner))
    const mine = tasks.filter((t) => successorOf(t.id, [self, other]) === self)
    expect(mine.length).toBeGreaterThanOrEqual(2)
    const [flaky, broken] = mine
    // flaky's lookup fails once, then finds its record; broken's never answers
    const { adopter, results, owned, onOwned, disconnect } = fakes(self, {
      found: new Set([flaky.id]),
      failing: new Map([
        [flaky.id, 1],
        [broken.id, Number.POSITIVE_INFINITY],
      ]),
    })
    await adopter.start()
    adopter.onBeacon(owner, {} as never)
    adopter.onBeacon(other, {} as never)
    adopter.onHold(owner, tasks, [self, other])
    disconnect(owner)
    const lookups = (id: string) => results.get.mock.calls.filter(([x]) => x === id).length
    /** Advances time (the other peer beaconing) until `broken` was looked up `n` times and that sweep ended. */
    const sweeps = async (n: number) => {
      for (let i = 0; i < 100 && lookups(broken.id) < n; i++) {
        await vi.advanceTimersByTimeAsync(100)
        adopter.onBeacon(other, {} as never)
      }
      await vi.advanceTimersByTimeAsync(0)
      expect(lookups(broken.id)).toBe(n)
    }
    await sweeps(1)
    // first sweep: the tasks whose lookups answered "none" are adopted; the failed two wait
    expect(owned.has(flaky.id)).toBe(false)
    expect(owned.has(broken.id)).toBe(false)
    expect(owned.size).toBe(mine.length - 2)
    await sweeps(2)
    // second sweep: flaky's record is found (never adopted); broken failed twice, still waits
    expect(lookups(flaky.id)).toBe(2)
    expect(owned.has(flaky.id)).toBe(false)
    expect(owned.has(broken.id)).toBe(false)
    await sweeps(ADOPTION_LOOKUP_TRIES)
    // third failure: adopted all the same, nothing is lost; the story says why
    expect(owned.has(broken.id)).toBe(true)
    expect(owned.has(flaky.id)).toBe(false)
    expect(lookups(flaky.id)).toBe(2)
    const why = onOwned.mock.calls.at(-1)?.[2] as Map<string, string>
    expect(why.get(broken.id)).toMatch(/^lookup failed 3×: query timed out/)
    adopter.stop()
  })

  it('asks the successor its list names before leaving it a task: what it does not know is adopted here', async () => {
    vi.useFakeTimers()
    const [self, owner, other] = peers
    const tasks = Array.from({ length: 24 }, (_, n) => makeTask(600 + n, owner))
    const mine = tasks.filter((t) => successorOf(t.id, [self, other]) === self)
    const theirs = tasks.filter((t) => successorOf(t.id, [self, other]) === other)
    expect(theirs.length).toBeGreaterThanOrEqual(3)
    // the other custodian guards one of its share and ran another; the rest never reached it
    const [guarded, ran, ...never] = theirs
    const ask = vi.fn<AskKnown>(async (_peer, _owner, ids) => ({
      guarded: ids.filter((id) => id === guarded.id),
      taken: ids.filter((id) => id === ran.id),
    }))
    const { adopter, owned } = await ownerDiesHolding(tasks, [self, owner, other], ask)
    expect(ask).toHaveBeenCalledWith(other, owner, expect.arrayContaining(theirs.map((t) => t.id)))
    expect(ask.mock.calls.flatMap(([, , ids]) => ids).sort()).toEqual(theirs.map((t) => t.id).sort())
    // its own share and what the successor never got are adopted here; the other two are left to it
    const adopted = [...mine, ...never].map((t) => t.id).sort()
    expect([...owned.keys()].sort()).toEqual(adopted)
    // what the successor ran is forgotten; what it guards is still guarded here (asked again later)
    expect(adopter.remembered).toBe(1)
    adopter.stop()
  })

  it('adopts its own share while a successor it asked has not answered', async () => {
    vi.useFakeTimers()
    const [self, owner, other] = peers
    const tasks = Array.from({ length: 12 }, (_, n) => makeTask(680 + n, owner))
    const mine = tasks.filter((t) => successorOf(t.id, [self, other]) === self)
    // the other custodian is frozen: its answer never comes
    const ask = vi.fn<AskKnown>(() => new Promise(() => {}))
    const { adopter, owned } = await ownerDiesHolding(tasks, [self, owner, other], ask)
    expect(ask).toHaveBeenCalled()
    expect([...owned.keys()].sort()).toEqual(mine.map((t) => t.id).sort())
    adopter.stop()
  })

  it('answers a fellow custodian which tasks of an owner it guards and which it has taken', async () => {
    const [self, owner, other] = peers
    const tasks = Array.from({ length: 4 }, (_, n) => makeTask(650 + n, owner))
    // run here under the dead owner's lease: left to this node, but not taken (it may die too)
    const { adopter, ledger } = fakes(self, { leased: new Set([tasks[3].id]) })
    adopter.onHold(owner, tasks.slice(0, 2), [self, other])
    ledger.take(tasks[1]) // adopted here already
    const ids = [...tasks, makeTask(660, owner)].map((t) => t.id)
    expect(adopter.onQuery(other, owner, ids)).toEqual({
      type: 'known',
      requestId: 'q',
      guarded: [tasks[0].id, tasks[3].id],
      taken: [tasks[1].id],
    })
    adopter.stop()
  })

  it('adopts nothing while the owner beacons, and forgets tasks the owner says ended', async () => {
    vi.useFakeTimers()
    const [self, owner] = peers
    const tasks = Array.from({ length: 5 }, (_, n) => makeTask(300 + n, owner))
    const { adopter, ledger } = fakes(self)
    await adopter.start()
    adopter.onHold(owner, tasks, [self])
    adopter.onDrop(
      owner,
      tasks.slice(0, 2).map((t) => t.id),
    )
    expect(adopter.remembered).toBe(3)
    for (let i = 0; i < 30; i++) {
      adopter.onBeacon(owner, {} as never)
      await vi.advanceTimersByTimeAsync(100)
    }
    expect(ledger.take).not.toHaveBeenCalled()
    adopter.stop()
  })

  it('forgets what an owner’s earlier life handed it when the owner starts again: never adopted', async () => {
    vi.useFakeTimers()
    const [self, owner, other] = peers
    const before = Array.from({ length: 4 }, (_, n) => makeTask(320 + n, owner))
    const after = [makeTask(330, owner)]
    const theirs = [makeTask(331, other)]
    const { adopter } = fakes(self)
    await adopter.start()
    adopter.onHold(owner, before, [self])
    adopter.onHold(other, theirs, [self])
    expect(adopter.remembered).toBe(5)
    // the owner restarted: its first frame voids the earlier life's tasks, not another owner's
    expect(adopter.onForget(owner)).toMatchObject({ type: 'held', held: 0 })
    expect(adopter.remembered).toBe(1)
    adopter.onHold(owner, after, [self])
    expect(adopter.remembered).toBe(2)
    adopter.stop()
  })

  it('replays the journal alone: after the detection window, requeues what has no result in the local store', async () => {
    vi.useFakeTimers()
    const [self] = peers
    const journal = [makeTask(400, self), makeTask(401, self), makeTask(402, self)]
    const { adopter, ledger, announce, owned, results } = fakes(self, {
      journal,
      stored: new Set([journal[1].id]),
    })
    await adopter.start()
    expect(ledger.markDone).toHaveBeenCalledWith(journal[1].id)
    expect(owned.size).toBe(0) // waits for a peer to ask the DHT first
    await vi.advanceTimersByTimeAsync(1_000)
    expect([...owned.keys()]).toEqual([journal[0].id, journal[2].id])
    expect([...owned.values()].every((o) => o.as === 'replayed' && (o.floor ?? 0) > 0)).toBe(true)
    expect(announce).toHaveBeenCalledWith([journal[0], journal[2]])
    expect(results.get).not.toHaveBeenCalled() // no peer: nothing to ask
    adopter.stop()
  })

  it('replays the journal once a peer is heard: what the DHT has a result for is marked done, not run again', async () => {
    // while this node was down its successor adopted and ran journal[0]
    const [self, peer] = peers
    const journal = [makeTask(420, self), makeTask(421, self)]
    const { adopter, ledger, announce, owned } = fakes(self, { journal, found: new Set([journal[0].id]) })
    await adopter.start()
    expect(owned.size).toBe(0)
    adopter.onBeacon(peer, {} as never)
    await vi.waitFor(() => expect(announce).toHaveBeenCalledWith([journal[1]]))
    expect([...owned.keys()]).toEqual([journal[1].id])
    expect(ledger.markDone).toHaveBeenCalledWith(journal[0].id)
    adopter.stop()
  })

  it('reads a replayed task found in the local store again from the DHT once a peer is heard', async () => {
    // killed just after it ran the task, this node may hold a record that a later run beat (the
    // task was adopted and run again while it was down): the DHT's selector has the winner
    const [self, peer] = peers
    const journal = [makeTask(410, self), makeTask(411, self)]
    const { adopter, results } = fakes(self, { journal: [journal[1]], stored: new Set([journal[1].id]) })
    await adopter.start()
    expect(results.refresh).not.toHaveBeenCalled() // no peer yet: the DHT has nothing to say
    adopter.onBeacon(peer, {} as never)
    expect(results.refresh.mock.calls).toEqual([[journal[1].id]])
    adopter.onBeacon(peer, {} as never)
    expect(results.refresh).toHaveBeenCalledOnce()
    adopter.stop()
  })
})

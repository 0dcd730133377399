import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { ADOPTION_LOOKUP_TRIES, LOOKUP_CHUNK_FIRST } from '../../../src/node/recovery/open-lookups.ts'
import { successorOf } from '../../../src/node/recovery/successor.ts'
import type { AskKnown } from '../../../src/node/recovery/successor-check.ts'
import type { Task } from '../../../src/task/task.ts'
import { makeTask } from '../../protocol/fixtures.ts'
import { fakes } from './recovery-fakes.ts'

const peers: string[] = []
beforeAll(async () => {
  for (let i = 0; i < 4; i++) peers.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
})

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

  it('adopts a chunk of orphans as soon as its lookups end, while the next chunk is looked up', async () => {
    vi.useFakeTimers()
    const [self, owner] = peers
    const tasks = Array.from({ length: 200 }, (_, n) => makeTask(3_000 + n, owner))
    const later = Promise.withResolvers<void>()
    let asked = 0
    const { adopter, announce, owned, disconnect } = fakes(self, {
      // the first chunk's lookups answer; the rest wait until released
      gate: () => (++asked <= LOOKUP_CHUNK_FIRST ? Promise.resolve() : later.promise),
    })
    await adopter.start()
    adopter.onBeacon(owner, {} as never)
    adopter.onHold(owner, tasks, [self])
    disconnect(owner)
    await vi.advanceTimersByTimeAsync(500)
    expect(announce).toHaveBeenCalledOnce()
    expect(announce.mock.calls[0][0]).toHaveLength(LOOKUP_CHUNK_FIRST)
    expect(owned.size).toBe(LOOKUP_CHUNK_FIRST)
    later.resolve()
    await vi.advanceTimersByTimeAsync(100)
    expect(owned.size).toBe(200)
    expect(announce.mock.calls.map(([chunk]) => chunk.length)).toEqual([64, 128, 8])
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

  it("keeps guarding a dead owner's task it runs under that owner's lease: adopted by no one while the run lasts, by itself once the lease ends without a record", async () => {
    vi.useFakeTimers()
    const [self, owner, other] = peers
    const tasks = Array.from({ length: 12 }, (_, n) => makeTask(900 + n, owner))
    const held = tasks.find((t) => successorOf(t.id, [self, other]) === self)!
    const theirs = tasks.find((t) => successorOf(t.id, [self, other]) === other)!
    const leased = new Set([held.id])
    const { adopter, custodian, owned, results, disconnect } = fakes(self, { leased })
    await adopter.start()
    adopter.onBeacon(owner, {} as never)
    adopter.onBeacon(other, {} as never)
    adopter.onHold(owner, tasks, [self, other])
    expect(custodian.leftHere(held.id)).toBe(false) // the owner lives: it decides
    disconnect(owner)
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(100)
      adopter.onBeacon(other, {} as never)
    }
    // the run here goes on under the dead owner's lease: not looked up, not adopted, still guarded
    expect(results.get.mock.calls.map(([id]) => id)).not.toContain(held.id)
    expect(owned.has(held.id)).toBe(false)
    expect(custodian.owner(held.id)).toBe(owner)
    // the other custodians leave it to this node: only this node may take it over
    expect(custodian.leftHere(held.id)).toBe(true)
    expect(custodian.leftHere(theirs.id)).toBe(false)
    // the lease ends without a record (the run failed and went back to the dead owner): the next sweep adopts it
    leased.delete(held.id)
    for (let i = 0; i < 15; i++) {
      await vi.advanceTimersByTimeAsync(100)
      adopter.onBeacon(other, {} as never)
    }
    expect(owned.get(held.id)).toMatchObject({ as: 'adopted', task: { owner: self } })
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
})

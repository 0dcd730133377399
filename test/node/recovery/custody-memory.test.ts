import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { Custodian } from '../../../src/node/recovery/custodian.ts'
import type { Task } from '../../../src/task/task.ts'
import { makeTask } from '../../protocol/fixtures.ts'

const peers: string[] = []
beforeAll(async () => {
  for (let i = 0; i < 3; i++) peers.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
})

/** A custodian guarding at most `memory` tasks, every owner alive, nothing owned or settled here. */
function custodian(self: string, memory: number, memoryBytes?: number): Custodian {
  return new Custodian({
    self,
    memory,
    memoryBytes,
    liveness: { isDead: () => false, live: () => [] },
    ledger: { has: () => false, journalled: async () => {} },
    own: () => false,
    thief: { holds: () => false },
    results: { cached: () => undefined, get: async () => undefined },
    hold: async () => {},
    failureDetectionMs: 1_000,
    onAdopted: () => undefined,
  })
}

const hold = (c: Custodian, from: string, tasks: Task[], self: string, bytes = 0) =>
  c.handle(
    from,
    {
      type: 'hold',
      requestId: 'h',
      custodians: [{ peerId: self, addrs: [] }],
      tasks,
    },
    bytes,
  )

/**
 * A custodian's memory is bounded, and a member flooding it with `hold`s of its own tasks must not
 * push an honest owner's out (they would be adopted by no one should that owner die), nor take an
 * honest task's custody away by naming its id as its own.
 */
describe('custody memory under a flood of holds', () => {
  it("keeps every task of a small owner while another's surplus is forgotten, its oldest first", () => {
    const [self, honest, flooder] = peers
    const c = custodian(self, 50)
    const mine = Array.from({ length: 5 }, (_, n) => makeTask(5_000 + n, honest))
    hold(c, honest, mine, self)
    const flood = Array.from({ length: 200 }, (_, n) => makeTask(6_000 + n, flooder))
    for (let i = 0; i < flood.length; i += 20) hold(c, flooder, flood.slice(i, i + 20), self)
    expect(c.guarded).toBe(50)
    for (const t of mine) expect(c.owner(t.id)).toBe(honest)
    expect(flood.slice(-45).every((t) => c.owner(t.id) === flooder)).toBe(true)
    expect(c.owner(flood[0].id)).toBeUndefined()
  })

  it('keeps within its byte budget by forgetting the tasks of the owner whose frames brought the most', () => {
    const [self, honest, flooder] = peers
    const c = custodian(self, 1_000, 10_000)
    const mine = Array.from({ length: 5 }, (_, n) => makeTask(8_000 + n, honest))
    hold(c, honest, mine, self, 1_000)
    // tasks of large inputs: frames of 20 tasks, 5,000 bytes each
    const flood = Array.from({ length: 100 }, (_, n) => makeTask(9_000 + n, flooder))
    for (let i = 0; i < flood.length; i += 20) hold(c, flooder, flood.slice(i, i + 20), self, 5_000)
    for (const t of mine) expect(c.owner(t.id)).toBe(honest)
    // 9,000 bytes are left to it, at 250 a task: its latest 36
    expect(flood.filter((t) => c.owner(t.id) === flooder)).toHaveLength(36)
    expect(c.owner(flood[99].id)).toBe(flooder)
    expect(c.owner(flood[0].id)).toBeUndefined()
    expect(c.guarded).toBe(41)
  })

  it("does not hand a live owner's task to another peer that names its id in a hold", () => {
    const [self, honest, flooder] = peers
    const c = custodian(self, 100)
    const task = makeTask(7_000, honest)
    hold(c, honest, [task], self)
    hold(c, flooder, [{ ...task, owner: flooder }], self)
    expect(c.owner(task.id)).toBe(honest)
    expect(c.guards(honest)).toBe(true)
  })
})

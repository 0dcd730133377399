import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { successorOf } from '../../../src/node/recovery/successor.ts'
import { type AskKnown, SUCCESSOR_PATIENCE_SWEEPS } from '../../../src/node/recovery/successor-check.ts'
import { makeTask } from '../../protocol/fixtures.ts'
import { fakes } from './recovery-fakes.ts'

const peers: string[] = []
beforeAll(async () => {
  for (let i = 0; i < 3; i++) peers.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
})

/**
 * A dead owner's custodian leaves the tasks whose successor is another custodian to it while that
 * one says it guards them. One that says so sweep after sweep and never adopts them (a broken or
 * hostile peer) would hold them up for good: past a patience, the custodian adopts them itself.
 */
describe('a successor that guards and never adopts', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it(`is waited for ${SUCCESSOR_PATIENCE_SWEEPS} sweeps; then its share is adopted here`, async () => {
    vi.useFakeTimers()
    const [self, owner, other] = peers
    const tasks = Array.from({ length: 12 }, (_, n) => makeTask(1_200 + n, owner))
    const mine = tasks.filter((t) => successorOf(t.id, [self, other]) === self)
    const theirs = tasks.filter((t) => successorOf(t.id, [self, other]) === other)
    expect(theirs.length).toBeGreaterThan(0)
    // it says it guards every task it is asked about, and never takes one
    const ask = vi.fn<AskKnown>(async (_peer, _owner, ids) => ({ guarded: ids, taken: [] }))
    const { adopter, owned, disconnect } = fakes(self, { ask })
    await adopter.start()
    adopter.onBeacon(owner, {} as never)
    adopter.onBeacon(other, {} as never)
    adopter.onHold(owner, tasks, [self, other])
    disconnect(owner)
    /** Lets `ms` pass, the other custodian beaconing (alive) all along. */
    const pass = async (ms: number) => {
      for (let t = 0; t < ms; t += 100) {
        await vi.advanceTimersByTimeAsync(100)
        adopter.onBeacon(other, {} as never)
      }
    }
    await pass(1_000)
    expect([...owned.keys()].sort()).toEqual(mine.map((t) => t.id).sort())
    // a sweep a detection window (1 s here): short of the patience, its share is still left to it
    await pass((SUCCESSOR_PATIENCE_SWEEPS - 3) * 1_000)
    expect(owned.size).toBe(mine.length)
    const asks = ask.mock.calls.length
    expect(asks).toBeGreaterThanOrEqual(SUCCESSOR_PATIENCE_SWEEPS - 3)
    await pass(6 * 1_000)
    expect([...owned.keys()].sort()).toEqual(tasks.map((t) => t.id).sort())
    expect(adopter.remembered).toBe(0)
    adopter.stop()
  })
})

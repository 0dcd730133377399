import { describe, expect, it } from 'vitest'
import { CustodyKeeper } from '../../../src/node/owner/custody-keeper.ts'
import type { CustodyFrame } from '../../../src/protocol/messages/custody-messages.ts'
import { EXECUTOR, makeTask, OWNER } from '../../protocol/fixtures.ts'

/** A keeper whose custody frames are recorded (peer, type), answered `held` unless `failing` has the peer. */
function keeperWith(candidates: string[], failing = new Set<string>(), firstLife = false) {
  const sent: Array<[string, CustodyFrame['type']]> = []
  const keeper = new CustodyKeeper({
    custody: {
      request: async (peer, frame) => {
        sent.push([peer, frame.type])
        if (failing.has(peer)) throw new Error(`${peer} unreachable`)
        return { type: 'held', requestId: frame.requestId, held: 0 }
      },
    },
    candidates: async () => candidates,
    addrsOf: () => [],
    openTasks: () => [],
    firstLife,
  })
  return { keeper, sent }
}

describe('CustodyKeeper greets each peer once per life', () => {
  it('tells a custodian to forget an earlier life’s tasks before its first hold, and only then', async () => {
    const { keeper, sent } = keeperWith([EXECUTOR])
    await keeper.hold([makeTask(1, OWNER)])
    await keeper.hold([makeTask(2, OWNER)])
    expect(sent).toEqual([
      [EXECUTOR, 'forget'],
      [EXECUTOR, 'hold'],
      [EXECUTOR, 'hold'],
    ])
  })

  it('greets a peer that is no custodian once; one that did not answer is asked again', async () => {
    const failing = new Set([EXECUTOR])
    const { keeper, sent } = keeperWith([], failing)
    expect(await keeper.greet(OWNER)).toBe(true)
    expect(await keeper.greet(OWNER)).toBe(true)
    expect(await keeper.greet(EXECUTOR)).toBe(false)
    failing.clear()
    expect(await keeper.greet(EXECUTOR)).toBe(true)
    expect(sent).toEqual([
      [OWNER, 'forget'],
      [EXECUTOR, 'forget'],
      [EXECUTOR, 'forget'],
    ])
  })

  it('greets no one in its first life (a key made at this start): there is nothing to forget', async () => {
    const { keeper, sent } = keeperWith([EXECUTOR], new Set(), true)
    expect(await keeper.greet(OWNER)).toBe(true)
    await keeper.hold([makeTask(3, OWNER)])
    expect(sent).toEqual([[EXECUTOR, 'hold']])
  })
})

import { describe, expect, it, vi } from 'vitest'
import { CustodyKeeper } from '../../../src/node/owner/custody-keeper.ts'
import { encodeMessage } from '../../../src/protocol/codec.ts'
import { FRAME_BUDGET_BYTES } from '../../../src/protocol/constants.ts'
import type { CustodyFrame } from '../../../src/protocol/messages/custody-messages.ts'
import { EXECUTOR, makeTask, OWNER, STRANGER } from '../../protocol/fixtures.ts'

/** A keeper whose custody frames are recorded (peer, type), answered `held` unless `failing` has the peer. */
function keeperWith(candidates: string[], failing = new Set<string>(), firstLife = false) {
  const sent: Array<[string, CustodyFrame['type']]> = []
  const frames: CustodyFrame[] = []
  const keeper = new CustodyKeeper({
    custody: {
      request: async (peer, frame) => {
        sent.push([peer, frame.type])
        frames.push(frame)
        if (failing.has(peer)) throw new Error(`${peer} unreachable`)
        return { type: 'held', requestId: frame.requestId, held: 0 }
      },
    },
    candidates: async () => candidates,
    addrsOf: () => [],
    openTasks: () => [],
    firstLife,
  })
  return { keeper, sent, frames }
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

/** A keeper whose frames are recorded with the custodians they name; `fails(peer)` makes a hold fail. */
function namingKeeper(candidates: string[], fails: (peer: string) => boolean) {
  const open = [makeTask(1, OWNER)]
  const sent: Array<{ to: string; names: string[]; tasks: number }> = []
  const keeper = new CustodyKeeper({
    custody: {
      request: async (peer, frame) => {
        if (frame.type !== 'hold') throw new Error(`unexpected ${frame.type}`)
        sent.push({ to: peer, names: frame.custodians.map((c) => c.peerId), tasks: frame.tasks.length })
        if (fails(peer)) throw new Error(`${peer} timed out`)
        return { type: 'held', requestId: frame.requestId, held: frame.tasks.length }
      },
    },
    candidates: async () => candidates,
    addrsOf: () => [],
    openTasks: () => open,
    firstLife: true,
  })
  return { keeper, sent, open }
}

describe('CustodyKeeper names a custodian to the others only once it holds the tasks', () => {
  it('a hold that failed at one custodian: the other learns at once; the failed one rejoins holding all', async () => {
    let failures = 0
    const { keeper, sent, open } = namingKeeper(
      [EXECUTOR, STRANGER],
      (p) => p === STRANGER && failures++ === 0,
    )
    await keeper.hold(open)
    await vi.waitFor(() => expect(sent.length).toBe(5))
    expect(sent).toEqual([
      { to: EXECUTOR, names: [EXECUTOR, STRANGER], tasks: 1 },
      { to: STRANGER, names: [EXECUTOR, STRANGER], tasks: 1 }, // failed
      // the custodian that holds the task no longer leaves a share of it to the one that may not
      { to: EXECUTOR, names: [EXECUTOR], tasks: 0 },
      // chosen again: handed every open task, and named to the other once it acknowledged
      { to: STRANGER, names: [EXECUTOR, STRANGER], tasks: 1 },
      { to: EXECUTOR, names: [EXECUTOR, STRANGER], tasks: 0 },
    ])
    expect(keeper.current).toEqual([EXECUTOR, STRANGER])
  })

  it('a custodian that keeps failing is never named to the other again', async () => {
    const { keeper, sent, open } = namingKeeper([EXECUTOR, STRANGER], (p) => p === STRANGER)
    await keeper.hold(open)
    await vi.waitFor(() => expect(sent.length).toBe(5))
    const toExecutor = sent.filter((f) => f.to === EXECUTOR).map((f) => f.names)
    expect(toExecutor).toEqual([[EXECUTOR, STRANGER], [EXECUTOR], [EXECUTOR]])
    expect(keeper.current).toEqual([EXECUTOR])
  })
})

describe('CustodyKeeper drops only what it handed over', () => {
  it('a task that ended before any hold carried it is no custodian’s to forget', async () => {
    const { keeper, frames } = keeperWith([EXECUTOR], new Set(), true)
    const [handed, never] = [makeTask(1, OWNER), makeTask(2, OWNER)]
    await keeper.hold([handed])
    keeper.drop([handed.id, never.id])
    keeper.drop([handed.id]) // named twice: forgotten once
    keeper.flushNow()
    await vi.waitFor(() => expect(frames.map((f) => f.type)).toEqual(['hold', 'drop']))
    expect(frames[1]).toMatchObject({ type: 'drop', ids: [handed.id] })
  })
})

describe('CustodyKeeper keeps each hold frame small', () => {
  it('holds 2,000 tasks in frames of at most the frame budget, every task in one of them', async () => {
    const { keeper, frames } = keeperWith([EXECUTOR], new Set(), true)
    const tasks = Array.from({ length: 2000 }, (_, i) => makeTask(i, OWNER))
    await keeper.hold(tasks)
    const holds = frames.filter((f) => f.type === 'hold')
    expect(holds.length).toBeGreaterThan(1)
    for (const f of holds) expect(encodeMessage(f).byteLength).toBeLessThanOrEqual(FRAME_BUDGET_BYTES + 1024)
    const held = holds.flatMap((f) => (f.type === 'hold' ? f.tasks.map((t) => t.id) : []))
    expect(held).toEqual(tasks.map((t) => t.id))
  })
})

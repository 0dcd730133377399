import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { RELAY_SPREAD_MS, ResultFollower } from '../../../src/node/results/result-follower.ts'

const peers: string[] = []
beforeAll(async () => {
  for (let i = 0; i < 4; i++) peers.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
})

/** A ResultFollower over records held in `held`, fetching nothing (the DHT is read instead). */
function follower(
  self: string,
  held: Map<string, { epoch: number; executor: string }>,
  inProgress: (id: string) => boolean,
) {
  const results = {
    supersededBy: (id: string, epoch: number, executor: string) => {
      const h = held.get(id)
      return h !== undefined && (epoch > h.epoch || (epoch === h.epoch && executor !== h.executor))
    },
    accept: vi.fn(),
    refresh: vi.fn(),
    cached: (id: string) => held.get(id),
    local: async () => undefined,
  }
  const fetch = vi.fn(async () => undefined)
  return {
    results,
    fetch,
    follower: new ResultFollower({ self, results: results as never, fetch, inProgress }),
  }
}

const notice = (taskId: string, epoch: number) => ({
  v: 1 as const,
  results: [{ taskId, status: 'succeeded' as const, epoch }],
})

describe('ResultFollower', () => {
  it('fetches a record that could beat the one held (higher epoch, or same epoch by another executor), else reads the DHT', async () => {
    const [self, x, y] = peers
    const held = new Map([['t1', { epoch: 5, executor: x }]])
    const { results, fetch, follower: f } = follower(self, held, () => false)
    f.onResultNotice(y, notice('t1', 4)) // older: nothing
    f.onResultNotice(x, notice('t1', 5)) // the one held: nothing
    f.onResultNotice(y, notice('unknown', 9)) // nothing held: the inbox's business
    f.onResultNotice(self, notice('t1', 9)) // its own notice
    expect(fetch).not.toHaveBeenCalled()
    f.onResultNotice(y, notice('t1', 6))
    await vi.waitFor(() => expect(results.refresh).toHaveBeenCalledWith('t1')) // the executor had nothing
    expect(fetch).toHaveBeenCalledWith(y, 't1')
  })

  it('takes a relayed entry for the record it names: fetched from the relay only when it could beat the one held', async () => {
    const [self, x, y, relay] = peers
    const held = new Map([
      ['t1', { epoch: 5, executor: x }],
      ['t2', { epoch: 5, executor: x }],
    ])
    const { fetch, follower: f } = follower(self, held, () => false)
    const relayed = (taskId: string, epoch: number, executor: string) => ({
      v: 1 as const,
      results: [{ taskId, status: 'succeeded' as const, epoch, executor }],
    })
    f.onResultNotice(relay, relayed('t1', 5, x), true) // the record held here: nothing to fetch
    expect(fetch).not.toHaveBeenCalled()
    f.onResultNotice(relay, relayed('t2', 5, y), true) // another run's record of the same epoch
    expect(fetch).toHaveBeenCalledWith(relay, 't2') // from the relay, which holds it
    expect(fetch).toHaveBeenCalledTimes(1)
  })

  it('checks its own record, once published, against a notice that came while the task was in progress here', async () => {
    // two owners (a restarted owner replaying the task, and the successor that adopted it): the
    // other's notice comes while this node still runs the task, so nothing is held to compare with
    const [self, x, y] = peers
    const held = new Map<string, { epoch: number; executor: string }>()
    const running = new Set(['t1', 't2'])
    const { results, fetch, follower: f } = follower(self, held, (id) => running.has(id))
    f.onResultNotice(x, notice('t1', 9))
    f.onResultNotice(y, notice('t2', 3))
    f.onResultNotice(y, notice('t3', 9)) // not in progress here: not kept
    expect(fetch).not.toHaveBeenCalled()
    // this node's runs end: t1 under epoch 7 (the notice's 9 beats it), t2 under epoch 5 (it wins)
    held.set('t1', { epoch: 7, executor: self })
    held.set('t2', { epoch: 5, executor: self })
    held.set('t3', { epoch: 1, executor: self })
    for (const id of ['t1', 't2', 't3']) f.published(id)
    await vi.waitFor(() => expect(results.refresh).toHaveBeenCalledWith('t1'))
    expect(fetch.mock.calls).toEqual([[x, 't1']])
    // a notice is checked once
    f.published('t1')
    expect(fetch).toHaveBeenCalledOnce()
  })

  it('remembers the tasks whose contested notices it heard, to read again those it holds a record of', async () => {
    vi.useFakeTimers({ now: 10_000 })
    try {
      const [self, x, y] = peers
      const held = new Map([
        ['t1', { epoch: 2, executor: x }],
        ['t2', { epoch: 1, executor: y }],
        ['t3', { epoch: 3, executor: y }],
      ])
      const { follower: f } = follower(self, held, () => false)
      f.onResultNotice(x, notice('t1', 2), true)
      vi.advanceTimersByTime(1_000)
      f.onResultNotice(y, notice('t2', 1), false) // the results topic: no contest
      f.onResultNotice(y, notice('t3', 3), true)
      f.onResultNotice(y, notice('none', 3), true) // no record held here: nothing to read again
      expect(await f.contestedSince(0)).toEqual(['t1', 't3'])
      expect(await f.contestedSince(10_500)).toEqual(['t3'])
      // heard again: the later time counts
      f.onResultNotice(x, notice('t1', 2), true)
      expect(await f.contestedSince(10_500)).toEqual(['t3', 't1'])
    } finally {
      vi.useRealTimers()
    }
  })

  it('relays, after a random delay, the records it holds of the contested tasks it heard of, unless another sends first', async () => {
    vi.useFakeTimers({ now: 10_000 })
    try {
      const [self, x, y] = peers
      const held = new Map([
        ['t1', { taskId: 't1', status: 'succeeded', epoch: 9, executor: self }],
        ['t2', { taskId: 't2', status: 'succeeded', epoch: 4, executor: y }],
        ['t3', { taskId: 't3', status: 'succeeded', epoch: 5, executor: y }],
        ['t4', { taskId: 't4', status: 'succeeded', epoch: 5, executor: y }],
      ])
      const stored = { taskId: 't5', status: 'succeeded', epoch: 7, executor: y }
      const relayed: string[] = []
      const f = new ResultFollower({
        self,
        results: {
          cached: (id: string) => held.get(id),
          // t5's record is a copy in the store, not in memory yet: reading it keeps it in memory
          local: async (id: string) => {
            if (id !== 't5') return undefined
            held.set('t5', stored)
            return stored
          },
          supersededBy: () => false,
        } as never,
        fetch: async () => undefined,
        inProgress: () => false,
        relay: (r) =>
          relayed.push(`${r.taskId}@${r.epoch}${r.executor === undefined ? '' : ` by ${r.executor}`}`),
        random: () => 0.5,
      })
      f.onResultNotice(x, notice('t0', 1), true) // heard before the time asked: not relayed
      vi.advanceTimersByTime(1_000)
      for (const id of ['t1', 't2', 't3', 't4', 't5', 'none']) f.onResultNotice(x, notice(id, 1), true)
      const own = new Set(['t4']) // this node sends its own notice of t4 again
      f.relayHeard(await f.contestedSince(10_500), own)
      f.relayHeard(await f.contestedSince(10_500), own) // asked twice: one relay a task
      // another node's notice of the same record, or a later one, comes first: no relay
      f.onResultNotice(y, notice('t2', 4), true)
      f.onResultNotice(y, notice('t3', 4), true) // an earlier record: still relayed
      vi.advanceTimersByTime(RELAY_SPREAD_MS / 2)
      expect(relayed).toEqual(['t1@9', `t3@5 by ${y}`, `t5@7 by ${y}`])
      // a stopping node drops relays not sent yet
      f.relayHeard(await f.contestedSince(0))
      f.stopRelays()
      vi.advanceTimersByTime(RELAY_SPREAD_MS)
      expect(relayed).toEqual(['t1@9', `t3@5 by ${y}`, `t5@7 by ${y}`])
    } finally {
      vi.useRealTimers()
    }
  })
})

import { describe, expect, it } from 'vitest'
import { MAX_HOT_LEARNT, PeerView } from '../../../src/node/peers/peer-view.ts'
import type { Beacon, HotPeer } from '../../../src/protocol/messages/beacon-messages.ts'

function beacon(seq: number, queued: number, hot: HotPeer[] = []): Beacon {
  return {
    v: 1,
    seq,
    slots: 4,
    running: 4,
    queued,
    queuedWorkMs: queued * 100,
    speed: 1,
    types: ['sleep'],
    labels: [],
    memoryMb: 1024,
    expectedWaitMs: (queued * 100) / 4,
    sentAt: 0,
    hot,
  }
}

function hot(peerId: string, queued: number, ageMs: number): HotPeer {
  const { v: _v, seq: _s, sentAt: _t, hot: _h, ...load } = beacon(0, queued)
  return { peerId, addrs: [`/ip4/127.0.0.1/tcp/${4000 + queued}`], ageMs, ...load }
}

describe('PeerView', () => {
  it('counts neighbours only; peers named in hot lists are victims, with their addresses', () => {
    const view = new PeerView('me')
    expect(view.update('n1', beacon(1, 0, [hot('far', 50, 200), hot('me', 9, 0)]), 1_000)).toBe(true)
    expect(view.size).toBe(1)
    expect(
      view
        .list()
        .map((p) => p.peerId)
        .sort(),
    ).toEqual(['far', 'n1']) // never itself
    expect(view.get('far')?.updatedAt).toBe(800) // as old as the neighbour's knowledge of it
    expect(view.addrsOf('far')).toEqual(['/ip4/127.0.0.1/tcp/4050'])
    expect(view.neighbourList().map((p) => p.peerId)).toEqual(['n1'])
    expect([...view.eachNeighbour()].map((p) => p.peerId)).toEqual(['n1'])
  })

  it('keeps the freshest word: an older hot entry never replaces a newer one, nor a neighbour’s own beacon', () => {
    const view = new PeerView('me')
    view.update('n1', beacon(1, 0, [hot('far', 50, 100)]), 1_000)
    view.update('n2', beacon(1, 0, [hot('far', 10, 500)]), 1_000) // older news of far
    expect(view.get('far')?.queued).toBe(50)
    view.update('far', beacon(5, 3), 1_100) // far becomes a neighbour
    view.update('n1', beacon(2, 0, [hot('far', 99, 0)]), 1_200)
    expect(view.get('far')?.queued).toBe(3)
    expect(view.size).toBe(3)
    expect(view.update('far', beacon(5, 7), 1_300)).toBe(false) // a repeated seq is no news
  })

  it('names the most loaded fresh peers with stealable work, at most 3, in its own hot list', () => {
    const view = new PeerView('me')
    view.update('idle', beacon(1, 0), 1_000)
    view.update('busy', beacon(1, 40), 1_000)
    view.update('n', beacon(1, 0, [hot('a', 10, 0), hot('b', 20, 0), hot('stale', 90, 9_000)]), 1_000)
    const list = view.hot(1_500, 5_000, (id) => [`/dns4/${id}/tcp/1`])
    expect(list.map((h) => h.peerId)).toEqual(['busy', 'b', 'a'])
    expect(list[0]).toMatchObject({ addrs: ['/dns4/busy/tcp/1'], ageMs: 500, queued: 40 })
    expect(list[1]).toMatchObject({ addrs: ['/ip4/127.0.0.1/tcp/4020'], ageMs: 500 })
  })

  it('forgets a removed neighbour, and waits for neighbours, not hot entries', async () => {
    const view = new PeerView('me')
    view.update('n1', beacon(1, 0, [hot('far', 5, 0)]), 1_000)
    await view.waitForSize(1, AbortSignal.timeout(100))
    await expect(view.waitForSize(2, AbortSignal.timeout(50))).rejects.toThrow(/heard 1 of 2/)
    view.remove('n1')
    expect(view.size).toBe(0)
    expect(view.list().map((p) => p.peerId)).toEqual(['far'])
  })

  it(`keeps at most ${MAX_HOT_LEARNT} peers learnt from hot lists, the latest: a neighbour naming new ones without end grows nothing`, () => {
    const view = new PeerView('me')
    for (let seq = 1; seq <= 1_000; seq++) {
      const names = [0, 1, 2].map((i) => hot(`fake-${seq}-${i}`, 5, 0))
      view.update('n1', beacon(seq, 0, names), seq)
    }
    expect(view.size).toBe(1)
    expect(view.list()).toHaveLength(1 + MAX_HOT_LEARNT)
    expect(view.get('fake-1000-2')).toBeDefined()
    expect(view.get('fake-1-0')).toBeUndefined()
    // a peer first learnt, then heard itself, is a neighbour: never evicted as learnt
    view.update('fake-1000-2', beacon(1, 3), 2_000)
    for (let seq = 1_001; seq <= 1_100; seq++)
      view.update('n1', beacon(seq, 0, [hot(`more-${seq}`, 5, 0)]), seq)
    expect(view.get('fake-1000-2')).toBeDefined()
    expect(view.size).toBe(2)
  })
})

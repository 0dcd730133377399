import { describe, expect, it, vi } from 'vitest'
import { UnschedulableWatch } from '../../../src/node/owner/unschedulable.ts'
import type { PeerCapacity, QueuedTask } from '../../../src/policy/types.ts'

const offer = { types: ['sleep'], labels: [], slots: 2, memoryMb: 1024 }

function queued(id: string, labels: string[] = [], stealable = true): QueuedTask {
  return {
    id,
    type: 'sleep',
    priority: 0,
    resources: { slots: 1, memoryMb: 0, labels },
    enqueuedAt: 0,
    stealable,
  }
}

function peer(peerId: string, labels: string[], updatedAt: number): PeerCapacity {
  return { ...offer, peerId, labels, running: 0, queued: 0, queuedWorkMs: 0, speed: 1, updatedAt }
}

function setup(tasks: QueuedTask[], peers: PeerCapacity[]) {
  const onChange = vi.fn()
  const watch = new UnschedulableWatch({
    self: 'me',
    offer,
    queue: { values: () => tasks },
    peers: { list: () => peers },
    afterMs: 1000,
    staleAfterMs: 5000,
    onChange,
  })
  return { watch, onChange }
}

describe('UnschedulableWatch', () => {
  it('flags a task no live node can run only after afterMs, with a reason per node', () => {
    const { watch, onChange } = setup([queued('t', ['gpu']), queued('ok')], [peer('p1', ['ssd'], 0)])
    watch.check(0)
    watch.check(999)
    expect(watch.list()).toEqual([])
    watch.check(1000)
    expect(watch.get('t')?.reasons).toEqual([
      'me (this node): label "gpu" missing',
      'p1: label "gpu" missing',
    ])
    expect(watch.get('ok')).toBeUndefined()
    expect(onChange).toHaveBeenCalledTimes(1)
    expect(onChange).toHaveBeenCalledWith('t', true, expect.arrayContaining(['p1: label "gpu" missing']))
    watch.check(2000)
    expect(onChange).toHaveBeenCalledTimes(1) // reported once
  })

  it('clears the flag when a capable live peer appears, and ignores stale peers and leased-in tasks', () => {
    const tasks = [queued('t', ['gpu']), queued('held', ['gpu'], false)]
    const peers = [peer('old', ['gpu'], -10_000)]
    const { watch, onChange } = setup(tasks, peers)
    watch.check(0)
    watch.check(1500)
    expect(watch.list().map((t) => t.id)).toEqual(['t'])
    expect(watch.get('t')?.reasons).toEqual(['me (this node): label "gpu" missing'])
    expect(watch.get('t')?.reasons.some((r) => r.startsWith('old'))).toBe(false)
    peers.push(peer('gpu-node', ['gpu'], 1500))
    watch.check(2000)
    expect(watch.list()).toEqual([])
    expect(onChange).toHaveBeenLastCalledWith('t', false, [])
  })

  it('forgets a task that left the queue', () => {
    const tasks = [queued('t', ['gpu'])]
    const { watch } = setup(tasks, [])
    watch.check(0)
    watch.check(1000)
    expect(watch.get('t')).toBeDefined()
    tasks.pop()
    watch.check(1100)
    expect(watch.get('t')).toBeUndefined()
  })

  it('lists the longest flagged first, up to a page, and counts them all', () => {
    const tasks: QueuedTask[] = []
    const { watch } = setup(tasks, [])
    // each task is first seen a millisecond after the last and queued ahead of it, so the one
    // check that flags them all meets them newest first
    for (let i = 0; i < 300; i++) {
      tasks.unshift(queued(`t${i}`, ['gpu']))
      watch.check(i)
    }
    watch.check(10_000)
    expect(watch.count).toBe(300)
    expect(watch.list(100).map((t) => t.id)).toEqual(Array.from({ length: 100 }, (_, i) => `t${i}`))
    // on the wall clock: as far apart as they were first seen
    const since = watch.list().map((t) => t.since)
    expect(since.map((at) => at - since[0])).toEqual(Array.from({ length: 300 }, (_, i) => i))
    expect(watch.list(0)).toEqual([])
  })
})

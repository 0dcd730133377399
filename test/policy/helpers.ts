import type { LoadFigures, ThiefLoad } from '../../src/policy/stealing.ts'
import type { QueuedTask } from '../../src/policy/types.ts'

/** A queued task with defaults: priority 0, one slot, stealable, enqueued at 0. */
export function task(id: string, init: Partial<QueuedTask> = {}): QueuedTask {
  return {
    id,
    type: 'echo',
    priority: 0,
    resources: { slots: 1, memoryMb: 0, labels: [] },
    enqueuedAt: 0,
    stealable: true,
    ...init,
  }
}

/** A deterministic uniform random source in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A node's load: `queued` tasks of 100 ms each, 1 slot at speed 1. */
export const load = (queued: number, init: Partial<LoadFigures> = {}): LoadFigures => ({
  queued,
  queuedWorkMs: queued * 100,
  slots: 1,
  speed: 1,
  ...init,
})

/** A thief with nothing queued and one free slot. */
export const idle = (init: Partial<ThiefLoad> = {}): ThiefLoad => ({ ...load(0), freeSlots: 1, ...init })

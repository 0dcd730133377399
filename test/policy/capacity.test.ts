import { describe, expect, it } from 'vitest'
import {
  canRun,
  DEFAULT_DURATION_MS,
  DurationEstimator,
  expectedWaitMs,
  queuedWorkMs,
  unmetNeeds,
} from '../../src/policy/capacity.ts'
import type { NodeOffer } from '../../src/policy/types.ts'
import { task } from './helpers.ts'

describe('expectedWaitMs', () => {
  it.each([
    { name: 'work over slots × speed', c: { queuedWorkMs: 1200, slots: 4, speed: 1.5 }, wait: 200 },
    { name: 'an empty queue', c: { queuedWorkMs: 0, slots: 4, speed: 1 }, wait: 0 },
    { name: 'NaN work counts as none', c: { queuedWorkMs: Number.NaN, slots: 4, speed: 1 }, wait: 0 },
    {
      name: 'zero slots with work',
      c: { queuedWorkMs: 10, slots: 0, speed: 1 },
      wait: Number.POSITIVE_INFINITY,
    },
    {
      name: 'NaN speed with work',
      c: { queuedWorkMs: 10, slots: 2, speed: Number.NaN },
      wait: Number.POSITIVE_INFINITY,
    },
  ])('$name', ({ c, wait }) => {
    expect(expectedWaitMs(c)).toBe(wait)
  })
})

describe('canRun and unmetNeeds', () => {
  const offer: NodeOffer = { types: ['echo', 'resize'], labels: ['ssd'], slots: 2, memoryMb: 1024 }
  const need = (type: string, slots = 1, memoryMb = 0, labels: string[] = []) => ({
    type,
    resources: { slots, memoryMb, labels },
  })

  it.each([
    { name: 'plain task', need: need('echo'), reasons: [] },
    { name: 'memory 0 means no need', need: need('echo', 1, 0), reasons: [] },
    { name: 'fits exactly', need: need('resize', 2, 1024, ['ssd']), reasons: [] },
    { name: 'unknown handler', need: need('gpu-train'), reasons: ['handler "gpu-train" not offered'] },
    { name: 'missing label', need: need('echo', 1, 0, ['gpu', 'ssd']), reasons: ['label "gpu" missing'] },
    { name: 'too many slots', need: need('echo', 4), reasons: ['needs 4 slots, offers 2'] },
    { name: 'too much memory', need: need('echo', 1, 2048), reasons: ['needs 2048 MiB memory, offers 1024'] },
    {
      name: 'everything wrong',
      need: need('x', 3, 4096, ['gpu']),
      reasons: [
        'handler "x" not offered',
        'label "gpu" missing',
        'needs 3 slots, offers 2',
        'needs 4096 MiB memory, offers 1024',
      ],
    },
  ])('$name', ({ need, reasons }) => {
    expect(unmetNeeds(offer, need)).toEqual(reasons)
    expect(canRun(offer, need)).toBe(reasons.length === 0)
  })
})

describe('queuedWorkMs', () => {
  it('sums estimates × slots over stealable tasks only', () => {
    const tasks = [
      task('a', { type: 'fast' }),
      task('b', { type: 'slow', resources: { slots: 2, memoryMb: 0, labels: [] } }),
      task('c', { type: 'slow', stealable: false }),
    ]
    const estimate = (type: string) => (type === 'fast' ? 10 : 100)
    expect(queuedWorkMs(tasks, estimate)).toBe(10 + 200)
  })
})

describe('DurationEstimator', () => {
  it('uses the default for unseen types', () => {
    expect(new DurationEstimator().estimate('never')).toBe(DEFAULT_DURATION_MS)
    expect(new DurationEstimator({ defaultMs: 42 }).estimate('never')).toBe(42)
  })

  it('takes the first observation as is, then averages with weight alpha', () => {
    const est = new DurationEstimator({ alpha: 0.5 })
    est.observe('echo', 100)
    expect(est.estimate('echo')).toBe(100)
    est.observe('echo', 300)
    expect(est.estimate('echo')).toBe(200)
    est.observe('echo', Number.NaN)
    est.observe('echo', -5)
    expect(est.estimate('echo')).toBe(200)
  })

  it('converges to a steady run time', () => {
    const est = new DurationEstimator()
    est.observe('echo', 5_000)
    for (let i = 0; i < 60; i++) est.observe('echo', 50)
    expect(est.estimate('echo')).toBeCloseTo(50, 3)
  })

  it('snapshot round-trips through initial', () => {
    const est = new DurationEstimator()
    est.observe('a', 10)
    est.observe('b', 20)
    const copy = new DurationEstimator({ initial: est.snapshot() })
    expect(copy.snapshot()).toEqual({ a: 10, b: 20 })
    expect(copy.estimate('b')).toBe(20)
  })

  it.each<{ name: string; observed: Record<string, number>; nominal: Record<string, number>; speed: number }>(
    [
      { name: 'twice as fast', observed: { a: 50, b: 100 }, nominal: { a: 100, b: 200 }, speed: 2 },
      { name: 'half as fast', observed: { a: 200 }, nominal: { a: 100, z: 5 }, speed: 0.5 },
      { name: 'nothing shared', observed: { a: 200 }, nominal: { b: 100 }, speed: 1 },
    ],
  )('speedFactor: $name', ({ observed, nominal, speed }) => {
    const est = new DurationEstimator({ initial: observed })
    expect(est.speedFactor(nominal)).toBeCloseTo(speed, 12)
  })
})

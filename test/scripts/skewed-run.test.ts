import { describe, expect, it } from 'vitest'
import { skewedRun, type TaskRun } from '../../scripts/compare/skewed.ts'

describe('skewedRun', () => {
  const t0 = 1_000_000
  // 2 processes × 16 slots; 32 sleeps of 100 ms: ideal 100 ms
  const at = (by: string, start: number, end: number): TaskRun => ({
    by,
    startedAt: t0 + start,
    finishedAt: t0 + end,
    ms: 100,
  })

  it('splits the slot time of a round into work, overrun and idle time from the runs', () => {
    const runs = [
      // a: 16 runs at once, on time
      ...Array.from({ length: 16 }, () => at('a', 0, 100)),
      // b: 16 runs reaching it 20 ms late, each 10 ms over its sleep
      ...Array.from({ length: 16 }, () => at('b', 20, 130)),
    ]
    const run = skewedRun(t0, runs, ['a', 'b'], 0)
    expect(run.makespanMs).toBe(130)
    expect(run.idealMs).toBe(100)
    expect(run.ratio).toBeCloseTo(1.3)
    expect(run.perProcess).toEqual([16, 16])
    const total = 32 * 130
    const slots = run.slotTime
    expect(slots?.nominal).toBeCloseTo((32 * 100) / total)
    expect(slots?.overrun).toBeCloseTo((16 * 10) / total)
    expect(slots?.ramp).toBeCloseTo((16 * 20) / total)
    expect(slots?.tail).toBeCloseTo((16 * 30) / total)
    expect(slots?.gaps).toBe(0)
  })

  it('leaves out a run by a process not named (and counts it for no process)', () => {
    const run = skewedRun(t0, [at('a', 0, 100), at('stranger', 0, 100)], ['a', 'b'], 1)
    expect(run.perProcess).toEqual([1, 0])
    expect(run.failed).toBe(1)
    expect(run.slotTime?.nominal).toBeCloseTo(100 / (32 * 100))
  })
})

import { describe, expect, it } from 'vitest'
import { paired, pairedText } from '../../scripts/bench/paired.ts'

describe('paired', () => {
  it('counts the rounds a build was the lower and takes the median of the rounds’ ratios', () => {
    // the machine slowed in round 2 for both builds: the ratios see past it
    const p = paired([90, 180, 100, 110], [100, 200, 95, 120])
    expect(p.lower).toBe(3)
    expect(p.rounds).toBe(4)
    expect(p.medianRatio).toBeCloseTo(0.9, 5)
    expect(pairedText(p)).toBe('3 of 4 rounds lower, median 0.90×')
  })

  it('refuses rounds that do not pair up', () => {
    expect(() => paired([1, 2], [1])).toThrow('paired: 2 rounds against 1')
    expect(() => paired([], [])).toThrow(RangeError)
  })
})

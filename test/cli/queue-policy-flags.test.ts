import { describe, expect, it } from 'vitest'
import { queuePolicyOf } from '../../src/cli/daemon/queue-policy-flags.ts'
import { DEFAULT_AGING, STRICT_PRIORITY } from '../../src/policy/priority.ts'

describe('daemon queue-policy flags', () => {
  it('aging takes each given parameter over the defaults', () => {
    expect(queuePolicyOf({ queuePolicy: 'aging' })).toEqual(DEFAULT_AGING)
    expect(queuePolicyOf({ queuePolicy: 'aging', agingTau: 500, agingSteepness: 4 })).toEqual({
      ...DEFAULT_AGING,
      tauMs: 500,
      steepnessPerSecond: 4,
    })
    expect(queuePolicyOf({ queuePolicy: 'strict' })).toBe(STRICT_PRIORITY)
  })

  it('refuses parameters out of range, or aging parameters with strict priority, naming the flags', () => {
    expect(() => queuePolicyOf({ queuePolicy: 'aging', agingTheta: 1 })).toThrow(
      '--aging-theta: theta must be a number below every weight (< 1), got 1',
    )
    expect(() => queuePolicyOf({ queuePolicy: 'aging', agingSteepness: 0 })).toThrow(
      /^--aging-steepness: steepnessPerSecond must be positive/,
    )
    expect(() => queuePolicyOf({ queuePolicy: 'aging', agingTau: -1 })).toThrow(/^--aging-tau: tauMs must be/)
    expect(() => queuePolicyOf({ queuePolicy: 'strict', agingTau: 100, agingTheta: 0.1 })).toThrow(
      '--aging-theta, --aging-tau: only with --queue-policy aging, not strict',
    )
  })
})

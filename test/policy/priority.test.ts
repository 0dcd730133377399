import { describe, expect, it } from 'vitest'
import { InvalidPolicyError } from '../../src/policy/errors.ts'
import {
  AGING_BOOST,
  agingWaitBoundMs,
  createAgingPolicy,
  DEFAULT_AGING,
  effectivePriority,
  priorityWeight,
  STRICT_PRIORITY,
  validateQueuePolicy,
} from '../../src/policy/priority.ts'
import { MAX_PRIORITY, MIN_PRIORITY } from '../../src/task/limits.ts'

describe('priority weight', () => {
  it.each([
    { priority: MIN_PRIORITY, weight: 1 },
    { priority: 0, weight: 1.5 },
    { priority: MAX_PRIORITY, weight: 2 },
    { priority: MAX_PRIORITY + 50, weight: 2 },
  ])('priority $priority has weight $weight', ({ priority, weight }) => {
    expect(priorityWeight(priority)).toBeCloseTo(weight, 12)
  })
})

describe('effective priority', () => {
  it.each([MIN_PRIORITY, -1, 0, 7, MAX_PRIORITY])('a fresh task of priority %i keeps it exactly', (p) => {
    expect(effectivePriority(DEFAULT_AGING, p, 0)).toBe(p)
    expect(effectivePriority(STRICT_PRIORITY, p, 0)).toBe(p)
  })

  it('strict priority never ages', () => {
    expect(effectivePriority(STRICT_PRIORITY, MIN_PRIORITY, 3_600_000)).toBe(MIN_PRIORITY)
  })

  it('aging rises with wait and saturates below p + AGING_BOOST', () => {
    const waits = [0, 100, 1_000, 2_000, 3_000, 4_000, 10_000, 60_000]
    const values = waits.map((w) => effectivePriority(DEFAULT_AGING, MIN_PRIORITY, w))
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1])
    expect(values.at(-1)).toBeLessThanOrEqual(MIN_PRIORITY + AGING_BOOST)
    expect(values.at(-1)).toBeGreaterThan(MIN_PRIORITY + 0.99 * AGING_BOOST)
  })

  it('a negative wait (clock skew) counts as no wait', () => {
    expect(effectivePriority(DEFAULT_AGING, 5, -500)).toBe(5)
  })
})

describe('agingWaitBoundMs', () => {
  it.each([MIN_PRIORITY, -500, 0, 500, MAX_PRIORITY - 1])(
    'lowest priority outranks fresh top-priority work after agingWaitBoundMs (priority %i)',
    (p) => {
      const bound = agingWaitBoundMs(DEFAULT_AGING, p)
      expect(effectivePriority(DEFAULT_AGING, p, bound - 1)).toBeLessThan(MAX_PRIORITY)
      expect(effectivePriority(DEFAULT_AGING, p, bound + 1)).toBeGreaterThan(MAX_PRIORITY)
    },
  )

  it('the default bound for the lowest priority is a few seconds', () => {
    const bound = agingWaitBoundMs(DEFAULT_AGING, MIN_PRIORITY)
    expect(bound).toBeGreaterThan(2_000)
    expect(bound).toBeLessThan(4_000)
  })

  it('lower priorities wait longer', () => {
    const bounds = [MAX_PRIORITY, 500, 0, -500, MIN_PRIORITY].map((p) => agingWaitBoundMs(DEFAULT_AGING, p))
    expect(bounds[0]).toBe(0)
    for (let i = 1; i < bounds.length; i++) expect(bounds[i]).toBeGreaterThan(bounds[i - 1])
  })

  it('strict priority gives no bound below the top', () => {
    expect(agingWaitBoundMs(STRICT_PRIORITY, MIN_PRIORITY)).toBe(Number.POSITIVE_INFINITY)
    expect(agingWaitBoundMs(STRICT_PRIORITY, MAX_PRIORITY)).toBe(0)
  })

  it('the bound scales with tau', () => {
    const slow = createAgingPolicy({ tauMs: 30_000 })
    expect(agingWaitBoundMs(slow, MIN_PRIORITY)).toBeGreaterThan(29_000)
    expect(agingWaitBoundMs(slow, MIN_PRIORITY)).toBeLessThan(31_000)
  })
})

describe('policy validation', () => {
  it.each([
    { name: 'theta at the lowest weight', init: { theta: 1 } },
    { name: 'theta NaN', init: { theta: Number.NaN } },
    { name: 'tau zero', init: { tauMs: 0 } },
    { name: 'negative steepness', init: { steepnessPerSecond: -1 } },
  ])('refuses $name', ({ init }) => {
    expect(() => createAgingPolicy(init)).toThrow(InvalidPolicyError)
  })

  it('accepts the defaults and strict', () => {
    expect(validateQueuePolicy(DEFAULT_AGING)).toBe(DEFAULT_AGING)
    expect(validateQueuePolicy(STRICT_PRIORITY)).toBe(STRICT_PRIORITY)
    expect(createAgingPolicy()).toEqual(DEFAULT_AGING)
  })
})

import { describe, expect, it } from 'vitest'
import { backoffDelayMs, DEFAULT_BACKOFF } from '../../src/policy/backoff.ts'

describe('backoffDelayMs (exponential, full jitter)', () => {
  const policy = { baseMs: 100, capMs: 1_000 }
  it.each([
    { name: 'first retry, top of the jitter', retry: 1, random: 0.999, delay: 99 },
    { name: 'first retry, bottom of the jitter', retry: 1, random: 0, delay: 0 },
    { name: 'second retry doubles the ceiling', retry: 2, random: 0.5, delay: 100 },
    { name: 'third retry doubles it again', retry: 3, random: 0.5, delay: 200 },
    { name: 'the ceiling stops at the cap', retry: 5, random: 0.999, delay: 999 },
    { name: 'far retries stay under the cap', retry: 60, random: 0.5, delay: 500 },
    { name: 'retry 0 is treated as the first', retry: 0, random: 0.5, delay: 50 },
  ])('$name', ({ retry, random, delay }) => {
    expect(backoffDelayMs(retry, () => random, policy)).toBe(delay)
  })

  it('spreads retries uniformly under the ceiling (no synchronised retries)', () => {
    let seed = 1
    const random = () => {
      seed = (seed * 16807) % 2147483647
      return (seed - 1) / 2147483646
    }
    const delays = Array.from({ length: 2_000 }, () => backoffDelayMs(4, random, DEFAULT_BACKOFF))
    const ceiling = DEFAULT_BACKOFF.baseMs * 8
    expect(Math.max(...delays)).toBeLessThan(ceiling)
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0)
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length
    expect(mean).toBeGreaterThan(ceiling * 0.45)
    expect(mean).toBeLessThan(ceiling * 0.55)
    expect(new Set(delays).size).toBeGreaterThan(500)
  })
})

import { describe, expect, it } from 'vitest'
import { PerKeyThrottle } from '../../src/log/per-key-throttle.ts'

describe('PerKeyThrottle', () => {
  it('lets the first line of a key through, holds the rest of its window and counts them', () => {
    const t = new PerKeyThrottle(1_000)
    expect(t.pass('a', 0)).toEqual({ held: 0 })
    expect(t.pass('a', 10)).toBeUndefined()
    expect(t.pass('a', 999)).toBeUndefined()
    expect(t.pass('b', 500)).toEqual({ held: 0 }) // another key speaks for itself
    expect(t.pass('a', 1_000)).toEqual({ held: 2 })
    expect(t.pass('a', 1_500)).toBeUndefined()
    expect(t.pass('a', 2_000)).toEqual({ held: 1 })
    expect(t.pass('a', 5_000)).toEqual({ held: 0 })
  })

  it('stays bounded: past 1,024 keys, those whose window passed are forgotten', () => {
    const t = new PerKeyThrottle(1_000)
    for (let i = 0; i < 1_024; i++) t.pass(`old-${i}`, 0)
    expect(t.pass('old-1', 10)).toBeUndefined() // still within its window
    expect(t.pass('new', 2_000)).toEqual({ held: 0 }) // the old keys are forgotten to make room
    expect(t.pass('old-1', 2_001)).toEqual({ held: 0 }) // its held-back count went with it
  })
})

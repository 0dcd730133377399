import { describe, expect, it } from 'vitest'
import { eachLimited } from '../../src/util/each-limited.ts'

describe('eachLimited', () => {
  it('runs every item in order with at most `limit` in flight', async () => {
    let inFlight = 0
    let most = 0
    const started: number[] = []
    await eachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      started.push(n)
      most = Math.max(most, ++inFlight)
      await new Promise((resolve) => setImmediate(resolve))
      inFlight--
    })
    expect(started).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(most).toBe(3)
  })

  it('takes no new item once stopped, and rejects with the first error', async () => {
    const seen: number[] = []
    await eachLimited(
      [1, 2, 3, 4],
      1,
      async (n) => void seen.push(n),
      () => seen.length >= 2,
    )
    expect(seen).toEqual([1, 2])
    await expect(
      eachLimited([1], 2, async () => {
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
  })
})

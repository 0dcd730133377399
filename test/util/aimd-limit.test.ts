import { describe, expect, it } from 'vitest'
import { AimdLimit } from '../../src/util/aimd-limit.ts'
import { eachWithin } from '../../src/util/each-limited.ts'

describe('AimdLimit', () => {
  it('grows by one over a window of answers, up to max', () => {
    const limit = new AimdLimit({ initial: 4, min: 1, max: 6 })
    for (let i = 0; i < 4; i++) limit.answered()
    expect(limit.current).toBe(4) // 4 + 1/4 + … just under 5 (the fourth step is 1/4.75)
    limit.answered()
    expect(limit.current).toBe(5)
    for (let i = 0; i < 100; i++) limit.answered()
    expect(limit.current).toBe(6)
  })

  it('halves once when the calls of one window time out together, down to min', () => {
    const limit = new AimdLimit({ initial: 16, min: 2, max: 32 })
    const tickets = Array.from({ length: 16 }, () => limit.start())
    for (const t of tickets) limit.timedOut(t)
    expect(limit.current).toBe(8) // the 15 others started before the cut: no second cut
    const next = Array.from({ length: 8 }, () => limit.start())
    limit.timedOut(next[3])
    expect(limit.current).toBe(4)
    limit.timedOut(limit.start())
    limit.timedOut(limit.start())
    expect(limit.current).toBe(2)
  })

  it('refuses bounds that do not nest', () => {
    expect(() => new AimdLimit({ initial: 8, min: 1, max: 4 })).toThrow(/min ≤ initial ≤ max/)
    expect(() => new AimdLimit({ initial: 1, min: 0, max: 4 })).toThrow(RangeError)
  })
})

/** A call that settles when the test says so. */
function deferred() {
  let settle!: (ok: boolean) => void
  const promise = new Promise<void>((resolve, reject) => {
    settle = (ok) => (ok ? resolve() : reject(new Error('call failed')))
  })
  return { promise, settle }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('eachWithin', () => {
  it('keeps at most the current limit in flight, read again as each call ends, in item order', async () => {
    const limit = new AimdLimit({ initial: 2, min: 1, max: 8 })
    const calls = new Map<number, ReturnType<typeof deferred>>()
    const order: number[] = []
    let inFlight = 0
    let most = 0
    const all = eachWithin([0, 1, 2, 3, 4, 5], limit, (item, ticket) => {
      order.push(item)
      expect(ticket).toBe(item + 1)
      inFlight++
      most = Math.max(most, inFlight)
      const d = deferred()
      calls.set(item, d)
      return d.promise.finally(() => inFlight--)
    })
    await turn()
    expect([...calls.keys()]).toEqual([0, 1])
    // the limit drops to 1: the next call starts only once both in flight ended
    limit.timedOut(1)
    calls.get(0)?.settle(true)
    await turn()
    expect([...calls.keys()]).toEqual([0, 1])
    calls.get(1)?.settle(true)
    await turn()
    expect([...calls.keys()]).toEqual([0, 1, 2])
    // answers grow it again: 1 → 2 → 2.5 → 2.9 → 3.2
    for (let i = 0; i < 4; i++) limit.answered()
    calls.get(2)?.settle(true)
    await turn()
    expect([...calls.keys()]).toEqual([0, 1, 2, 3, 4, 5])
    for (const d of calls.values()) d.settle(true)
    await all
    expect(order).toEqual([0, 1, 2, 3, 4, 5])
    expect(most).toBe(3)
  })

  it('rejects with the first error and stops taking items; resolves at once for none', async () => {
    const limit = new AimdLimit({ initial: 1, min: 1, max: 1 })
    const seen: number[] = []
    await expect(
      eachWithin([1, 2, 3], limit, async (item) => {
        seen.push(item)
        if (item === 2) throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    await turn()
    expect(seen).toEqual([1, 2])
    await expect(eachWithin([], limit, async () => undefined)).resolves.toBeUndefined()
  })

  it('takes no more items once stopped, and resolves when those in flight end', async () => {
    const limit = new AimdLimit({ initial: 2, min: 1, max: 2 })
    let stop = false
    const seen: number[] = []
    await eachWithin(
      [1, 2, 3, 4],
      limit,
      async (item) => {
        seen.push(item)
        stop = true
      },
      () => stop,
    )
    expect(seen).toEqual([1, 2])
  })
})

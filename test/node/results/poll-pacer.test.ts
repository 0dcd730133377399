import { afterEach, describe, expect, it, vi } from 'vitest'
import { FIRSTS_IN_A_ROW, PollPacer } from '../../../src/node/results/poll-pacer.ts'

describe('PollPacer', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('lets a second’s worth of polls go at once, then one every 1000 / perSecond ms', async () => {
    vi.useFakeTimers()
    const pacer = new PollPacer(50)
    const signal = new AbortController().signal
    const went: number[] = []
    const start = Date.now()
    for (let i = 0; i < 150; i++) void pacer.turn(true, signal).then(() => went.push(Date.now() - start))
    await vi.advanceTimersByTimeAsync(0)
    expect(went).toHaveLength(50)
    expect(pacer.waiting).toBe(100)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(went.length).toBeGreaterThanOrEqual(99)
    expect(went.length).toBeLessThanOrEqual(101)
    await vi.advanceTimersByTimeAsync(1_100)
    expect(went).toHaveLength(150)
    // after the burst, polls are 20 ms apart
    const gaps = went.slice(51).map((t, i) => t - went[50 + i])
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(19)
  })

  it('a waiter’s first poll goes before the repeats queued ahead of it', async () => {
    vi.useFakeTimers()
    const pacer = new PollPacer(10)
    const signal = new AbortController().signal
    for (let i = 0; i < 10; i++) await pacer.turn(true, signal) // the bucket is empty
    const order: string[] = []
    for (let i = 0; i < 3; i++) void pacer.turn(false, signal).then(() => order.push(`again${i}`))
    void pacer.turn(true, signal).then(() => order.push('first'))
    await vi.advanceTimersByTimeAsync(400)
    expect(order).toEqual(['first', 'again0', 'again1', 'again2'])
  })

  it('lets at most FIRSTS_IN_A_ROW first polls go in a row while repeats wait', async () => {
    vi.useFakeTimers()
    const pacer = new PollPacer(10)
    const signal = new AbortController().signal
    for (let i = 0; i < 10; i++) await pacer.turn(true, signal) // the bucket is empty
    const order: string[] = []
    for (let i = 0; i < 2; i++) void pacer.turn(false, signal).then(() => order.push('again'))
    for (let i = 0; i < 10; i++) void pacer.turn(true, signal).then(() => order.push('first'))
    await vi.advanceTimersByTimeAsync(1_300)
    const firsts = Array.from({ length: FIRSTS_IN_A_ROW }, () => 'first')
    expect(order).toEqual([...firsts, 'again', ...firsts, 'again', 'first', 'first'])
  })

  it('a wait whose signal aborts, or that the pacer’s close ends, resolves false and leaves the queue', async () => {
    vi.useFakeTimers()
    const pacer = new PollPacer(1)
    const signal = new AbortController().signal
    expect(await pacer.turn(true, signal)).toBe(true)
    const controller = new AbortController()
    const gone = pacer.turn(false, controller.signal)
    const kept = pacer.turn(false, signal)
    expect(pacer.waiting).toBe(2)
    controller.abort()
    expect(await gone).toBe(false)
    expect(pacer.waiting).toBe(1)
    pacer.close()
    expect(await kept).toBe(false)
    expect(await pacer.turn(true, signal)).toBe(false)
  })
})

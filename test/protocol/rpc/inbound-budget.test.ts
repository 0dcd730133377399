import { describe, expect, it } from 'vitest'
import { InboundBudgetError } from '../../../src/protocol/errors.ts'
import { InboundBudget } from '../../../src/protocol/rpc/inbound-budget.ts'

/** A stream charging the budget; `evicted` holds the error it was dropped with. */
function stream(budget: InboundBudget) {
  const s: { evicted?: Error; charge: ReturnType<InboundBudget['open']> } = {
    charge: budget.open((err) => {
      expect(s.evicted).toBeUndefined() // evicted once
      s.evicted = err
    }),
  }
  return s
}

describe('InboundBudget', () => {
  it('holds what fits; past the limit it evicts the largest holders until the rest fit', () => {
    const budget = new InboundBudget(100)
    const [a, b, c] = [stream(budget), stream(budget), stream(budget)]
    a.charge.add(60)
    b.charge.add(30)
    c.charge.add(10)
    expect(budget.usedBytes).toBe(100)
    expect([a, b, c].map((s) => s.evicted)).toEqual([undefined, undefined, undefined])
    c.charge.add(1) // over by one: the largest (a) goes, not the one that crossed the line
    expect(a.evicted).toBeInstanceOf(InboundBudgetError)
    expect(a.evicted?.message).toBe(
      "inbound requests over the node's budget of 100 bytes: aborted the stream holding the most (60 bytes)",
    )
    expect(b.evicted).toBeUndefined()
    expect(c.evicted).toBeUndefined()
    expect(budget.usedBytes).toBe(41)
    expect(budget.evictions).toBe(1)
    a.charge.add(1000) // an evicted stream charges nothing more
    expect(budget.usedBytes).toBe(41)
  })

  it('a single chunk over the whole budget evicts its own stream; release gives bytes back once', () => {
    const budget = new InboundBudget(100)
    const small = stream(budget)
    const big = stream(budget)
    small.charge.add(10)
    big.charge.add(500)
    expect(big.evicted).toBeInstanceOf(InboundBudgetError)
    expect(small.evicted).toBeUndefined()
    expect(budget.usedBytes).toBe(10)
    small.charge.release()
    small.charge.release()
    expect(budget.usedBytes).toBe(0)
    expect(budget.streams).toBe(0)
  })

  it('refuses a budget that is not a positive integer', () => {
    expect(() => new InboundBudget(0)).toThrow(RangeError)
    expect(() => new InboundBudget(1.5)).toThrow(RangeError)
  })
})

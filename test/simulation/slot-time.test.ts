import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type SlotRun, slotTime } from '../../src/simulation/slot-time.ts'

const run = (node: number, startMs: number, endMs: number, nominalMs = endMs - startMs): SlotRun => ({
  node,
  startMs,
  endMs,
  nominalMs,
})

describe('slot time', () => {
  it('is all nominal when every slot runs back to back from the start to the end', () => {
    const shares = slotTime([run(0, 0, 50), run(0, 50, 100), run(0, 0, 100)], [2], 100)
    expect(shares).toEqual({ nominal: 1, overrun: 0, gaps: 0, ramp: 0, tail: 0 })
  })

  it('splits a run longer than its work into nominal and overrun', () => {
    // one slot, one run of 100 ms whose work was 80
    expect(slotTime([run(0, 0, 100, 80)], [1], 100)).toEqual({
      nominal: 0.8,
      overrun: 0.2,
      gaps: 0,
      ramp: 0,
      tail: 0,
    })
  })

  it('counts idle time before, between and after runs, slot by slot', () => {
    // node 0, 2 slots over 100 ms: slot A runs 10–40 and 50–80, slot B runs 20–100
    const shares = slotTime([run(0, 10, 40), run(0, 20, 100), run(0, 50, 80)], [2], 100)
    expect(shares.ramp).toBeCloseTo((10 + 20) / 200)
    expect(shares.gaps).toBeCloseTo(10 / 200)
    expect(shares.tail).toBeCloseTo(20 / 200)
    expect(shares.nominal).toBeCloseTo((30 + 80 + 30) / 200)
    expect(shares.overrun).toBe(0)
  })

  it('counts a node that ran nothing as idle to the end', () => {
    const shares = slotTime([run(0, 0, 100)], [1, 3], 100)
    expect(shares.nominal).toBeCloseTo(0.25)
    expect(shares.tail).toBeCloseTo(0.75)
  })

  it('gives a run the slot that freed last, so one slot waiting is one gap, not two', () => {
    // 2 slots: runs end at 30 and 60; the next starts at 70: 10 ms of gap on the slot freed at 60
    const shares = slotTime([run(0, 0, 30), run(0, 0, 60), run(0, 70, 100)], [2], 100)
    expect(shares.gaps).toBeCloseTo(10 / 200)
    expect(shares.tail).toBeCloseTo(70 / 200)
  })

  it('always gives shares in [0, 1] that sum to 1, whatever the stamps', () => {
    const anyRun = fc
      .record({
        node: fc.nat(2),
        startMs: fc.double({ min: -10, max: 200, noNaN: true }),
        lengthMs: fc.double({ min: 0, max: 120, noNaN: true }),
        nominalMs: fc.double({ min: 0, max: 120, noNaN: true }),
      })
      .map((r) => run(r.node, r.startMs, r.startMs + r.lengthMs, r.nominalMs))
    fc.assert(
      fc.property(fc.array(anyRun, { maxLength: 30 }), fc.integer({ min: 1, max: 300 }), (runs, makespan) => {
        const shares = slotTime(runs, [1, 2, 4], makespan)
        const values = Object.values(shares)
        for (const v of values) {
          expect(v).toBeGreaterThanOrEqual(0)
          expect(v).toBeLessThanOrEqual(1)
        }
        expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9)
      }),
    )
  })
})

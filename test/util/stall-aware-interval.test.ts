import { describe, expect, it } from 'vitest'
import { STALL_THRESHOLD_MS, stallAwareInterval } from '../../src/util/stall-aware-interval.ts'
import { blockLoop } from '../integration/helpers.ts'

describe('stallAwareInterval', () => {
  it('tells the first tick after the event loop was blocked how long it stalled', async () => {
    const PERIOD = 50
    const STALL = 600
    const reports: number[] = []
    let ticks = 0
    const stalled = await new Promise<number>((resolve) => {
      const timer = stallAwareInterval(PERIOD, (stalledMs) => {
        ticks++
        reports.push(stalledMs)
        if (ticks === 1)
          blockLoop(STALL) // between this tick and the next
        else if (ticks === 2) {
          clearInterval(timer)
          resolve(stalledMs)
        }
      })
      timer.ref()
    })
    // the second tick came at least STALL − PERIOD late (more on a busy machine, never less)
    expect(stalled).toBeGreaterThanOrEqual(STALL - PERIOD)
    expect(stalled).toBeGreaterThan(STALL_THRESHOLD_MS)
    expect(reports).toHaveLength(2)
  })
})

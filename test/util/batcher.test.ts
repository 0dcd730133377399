import { afterEach, describe, expect, it } from 'vitest'
import { Batcher } from '../../src/util/batcher.ts'

const wallClock = Date.now

describe('Batcher and the wall clock', () => {
  afterEach(() => {
    Date.now = wallClock
  })

  it('a step back of the wall clock does not hold the next batch past its window', async () => {
    const batches: number[][] = []
    let flushed: () => void = () => {}
    const batcher = new Batcher<number>(50, (items) => {
      batches.push(items)
      flushed()
    })
    const next = () => new Promise<void>((resolve) => (flushed = resolve))
    let done = next()
    batcher.add(1) // after a quiet spell: out on the next turn
    await done
    Date.now = () => wallClock() - 3_600_000 // NTP steps the clock back an hour
    done = next()
    const asked = performance.now()
    batcher.add(2) // within the window of the last batch: out when the window ends
    await done
    expect(batches).toEqual([[1], [2]])
    expect(performance.now() - asked).toBeLessThan(1_000)
  })
})

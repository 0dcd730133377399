import { describe, expect, it } from 'vitest'
import { byProtocol, dhtLine, evenSpread } from '../../src/simulation/report-text.ts'

describe('the DHT read-back of a simulation', () => {
  it('spreads the results it reads evenly over the tasks, each at most once', () => {
    const ids = Array.from({ length: 10 }, (_, i) => `t${i}`)
    expect(evenSpread(ids, 20)).toEqual(ids)
    expect(evenSpread(ids, 10)).toEqual(ids)
    expect(evenSpread(ids, 5)).toEqual(['t0', 't2', 't4', 't6', 't8'])
    expect(evenSpread(ids, 3)).toEqual(['t0', 't3', 't6'])
    expect(new Set(evenSpread(ids, 7)).size).toBe(7)
    expect(evenSpread(ids, 0)).toEqual([])
  })

  it('says how many it read of how many, and that a spread is not every task', () => {
    expect(dhtLine({ dhtVerified: null, dhtChecked: 0, tasks: 5 })).toBe('not checked')
    expect(dhtLine({ dhtVerified: 5, dhtChecked: 5, tasks: 5 })).toBe('5 / 5 read back')
    expect(dhtLine({ dhtVerified: 999, dhtChecked: 1000, tasks: 10_000 })).toBe(
      '999 / 1000 read back (an even spread of the 10000 tasks)',
    )
  })
})

describe('bytes per task by protocol', () => {
  it('lists the protocols that sent 50 bytes or more per task, most first, in KiB', () => {
    expect(byProtocol({ steal: 2048, ping: 0, replicate: 3482, beacon: 49.9 })).toBe(
      'replicate 3.4 KiB, steal 2.0 KiB',
    )
    expect(byProtocol({ ping: 3 })).toBe('under 50 bytes on every protocol')
  })
})

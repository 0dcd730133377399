import { describe, expect, it } from 'vitest'
import { simulationConfig } from '../../src/cli/simulate/simulate.ts'
import { WARM_UP_MAX_MS, warmUpDurations } from '../../src/simulation/warm-up.ts'

describe('warmUpDurations', () => {
  it('repeats the workload’s first durations, cut to the warm-up’s longest sleep, to the count asked', () => {
    const durations = [1, 30, 4, 9]
    expect(warmUpDurations(durations, 6)).toEqual([1, WARM_UP_MAX_MS, 4, WARM_UP_MAX_MS, 1, WARM_UP_MAX_MS])
    expect(warmUpDurations(durations, 0)).toEqual([])
    expect(warmUpDurations([], 10)).toEqual([])
  })

  it('takes its pattern from the first 1,000 durations only', () => {
    const durations = [...Array.from({ length: 1000 }, () => 2), 3]
    expect(new Set(warmUpDurations(durations, 3000))).toEqual(new Set([2]))
  })
})

describe('taskmesh simulate: layout and warm-up flags', () => {
  it('runs the 8-node scenarios warm, an event loop per core, unless told otherwise', () => {
    const skewed = simulationConfig({ scenario: 'skewed', json: false })
    expect(skewed).toMatchObject({ layout: 'cores', warmUp: 5000, tasks: 2000 })
    expect(
      simulationConfig({ scenario: 'skewed', json: false, warmUp: 0, layout: 'shared-loop' }),
    ).toMatchObject({ layout: 'shared-loop', warmUp: 0 })
  })

  it('warms a smaller run for less, in proportion, and keeps memory-transport nodes on one loop', () => {
    expect(simulationConfig({ scenario: 'skewed', json: false, tasks: 300 }).warmUp).toBe(750)
    expect(simulationConfig({ scenario: 'skewed', json: false, transport: 'memory' }).layout).toBe(
      'shared-loop',
    )
    expect(simulationConfig({ scenario: 'small', json: false }).warmUp).toBe(0)
  })
})

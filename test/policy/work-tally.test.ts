import { describe, expect, it } from 'vitest'
import { WorkTally } from '../../src/policy/work-tally.ts'
import { task } from './helpers.ts'

describe('WorkTally', () => {
  it('counts tasks by type and resources, stealable apart, and forgets empty shapes', () => {
    const tally = new WorkTally()
    tally.add(task('a'))
    tally.add(task('b', { stealable: false }))
    tally.add(task('c', { type: 'sleep' }))
    tally.add(task('d', { resources: { slots: 2, memoryMb: 0, labels: [] } }))
    tally.add(task('e', { resources: { slots: 1, memoryMb: 0, labels: ['gpu'] } }))
    const counts = () =>
      [...tally.values()]
        .map(
          (s) =>
            `${s.sample.type}/${s.sample.resources.slots}/${s.sample.resources.labels}:${s.all},${s.stealable}`,
        )
        .sort()
    expect(counts()).toEqual(['echo/1/:2,1', 'echo/1/gpu:1,1', 'echo/2/:1,1', 'sleep/1/:1,1'])
    tally.remove(task('a'))
    tally.remove(task('c', { type: 'sleep' }))
    expect(counts()).toEqual(['echo/1/:1,0', 'echo/1/gpu:1,1', 'echo/2/:1,1'])
  })

  it('ignores the removal of a shape it never counted', () => {
    const tally = new WorkTally()
    tally.remove(task('x'))
    expect([...tally.values()]).toEqual([])
  })
})

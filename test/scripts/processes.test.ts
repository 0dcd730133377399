import { describe, expect, it } from 'vitest'
import { mainThreadSched } from '../../scripts/compare/processes.ts'

describe('mainThreadSched', () => {
  it('counts the time this process’s main thread ran, and its run-queue wait', () => {
    const before = mainThreadSched(process.pid)
    const until = performance.now() + 60
    let spin = 0
    while (performance.now() < until) spin++
    const after = mainThreadSched(process.pid)
    expect(spin).toBeGreaterThan(0)
    // at least most of the 60 ms of spinning was spent running (the rest, at worst, waiting)
    expect(after.ranS - before.ranS + (after.waitedS - before.waitedS)).toBeGreaterThanOrEqual(0.055)
    expect(after.ranS - before.ranS).toBeGreaterThan(0.01)
    expect(after.waitedS).toBeGreaterThanOrEqual(before.waitedS)
  })

  it('is NaN for a process that is gone', () => {
    const gone = mainThreadSched(2 ** 22 + 12345) // above the kernel's largest pid
    expect(gone.ranS).toBeNaN()
    expect(gone.waitedS).toBeNaN()
  })
})

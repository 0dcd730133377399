import { describe, expect, it } from 'vitest'
import { mainThreadSched } from '../../scripts/compare/processes.ts'

describe('mainThreadSched', () => {
  it('counts the time this process’s main thread ran, and its run-queue wait', () => {
    const cpu0 = process.cpuUsage()
    const before = mainThreadSched(process.pid)
    const until = performance.now() + 60
    let spin = 0
    while (performance.now() < until) spin++
    const after = mainThreadSched(process.pid)
    const cpu = process.cpuUsage(cpu0)
    const cpuS = (cpu.user + cpu.system) / 1e6
    const ran = after.ranS - before.ranS
    expect(spin).toBeGreaterThan(0)
    // the kernel's two accounts of the same time agree: the main thread ran most of what the
    // process spent while it spun, and no more (wall time is no measure: in a VM the host may take
    // the core, and that time is neither run nor waited here)
    expect(cpuS).toBeGreaterThan(0.01)
    expect(ran).toBeGreaterThan(0.5 * cpuS)
    expect(ran).toBeLessThanOrEqual(cpuS + 0.001)
    expect(after.waitedS).toBeGreaterThanOrEqual(before.waitedS)
  })

  it('is NaN for a process that is gone', () => {
    const gone = mainThreadSched(2 ** 22 + 12345) // above the kernel's largest pid
    expect(gone.ranS).toBeNaN()
    expect(gone.waitedS).toBeNaN()
  })
})

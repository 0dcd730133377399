import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { mainThreadSched } from '../../scripts/compare/processes.ts'

/** User + system time of this process's main thread from its `stat` (clock ticks of 10 ms), seconds. */
function mainThreadTicksS(): number {
  const stat = readFileSync(`/proc/${process.pid}/task/${process.pid}/stat`, 'utf8')
  // the fields after the command name, which sits in parentheses: utime and stime are 14 and 15
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

describe('mainThreadSched', () => {
  it('counts the time this process’s main thread ran, and its run-queue wait', () => {
    const cpu0 = process.cpuUsage()
    const ticks0 = mainThreadTicksS()
    const before = mainThreadSched(process.pid)
    const until = performance.now() + 60
    let spin = 0
    while (performance.now() < until) spin++
    const after = mainThreadSched(process.pid)
    const ticks = mainThreadTicksS() - ticks0
    const cpu = process.cpuUsage(cpu0)
    const cpuS = (cpu.user + cpu.system) / 1e6
    const ran = after.ranS - before.ranS
    expect(spin).toBeGreaterThan(0)
    // the kernel's two accounts of the main thread's time agree (its stat counts whole ticks of
    // 10 ms): not the process's CPU, which its other threads (the compiler, the collector) share,
    // nor wall time (in a VM the host may take the core, and that time is neither run nor waited)
    expect(ran).toBeGreaterThan(0.005)
    expect(Math.abs(ran - ticks)).toBeLessThanOrEqual(0.025)
    expect(ran).toBeLessThanOrEqual(cpuS + 0.001)
    expect(after.waitedS).toBeGreaterThanOrEqual(before.waitedS)
  })

  it('is NaN for a process that is gone', () => {
    const gone = mainThreadSched(2 ** 22 + 12345) // above the kernel's largest pid
    expect(gone.ranS).toBeNaN()
    expect(gone.waitedS).toBeNaN()
  })
})

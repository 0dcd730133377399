import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { osThreadId, splitThreadCpu, threadCpuLine, threadCpuMs } from '../../src/simulation/thread-cpu.ts'

const linux = process.platform === 'linux'

/** Spins this thread until /proc says it ran `ms` more (or 10 s of wall time pass). */
function spin(ms: number): void {
  const from = threadCpuMs().get(process.pid) ?? 0
  const end = performance.now() + 10_000
  while ((threadCpuMs().get(process.pid) ?? 0) - from < ms && performance.now() < end)
    Math.sqrt(Math.random())
}

describe('splitThreadCpu', () => {
  const before = new Map([
    [100, 50],
    [101, 10],
    [102, 5],
  ])
  const after = new Map([
    [100, 80], // the simulation's thread: +30
    [101, 410], // a node thread: +400
    [102, 125], // a helper: +120
    [103, 7], // a helper started in between: +7
  ])

  it('splits the CPU between two readings into node loops, helpers and the simulation thread', () => {
    expect(splitThreadCpu(before, after, [101], 100)).toEqual({
      loopsMs: 400,
      helpersMs: 127,
      simulationMs: 30,
    })
  })

  it('counts the simulation thread as a loop when it hosts the nodes (the shared loop)', () => {
    expect(splitThreadCpu(before, after, [100], 100)).toEqual({
      loopsMs: 30,
      helpersMs: 527,
      simulationMs: 0,
    })
  })

  it('says nothing when a node thread is unknown or nothing was read', () => {
    expect(splitThreadCpu(before, after, [101, undefined], 100)).toBeUndefined()
    expect(splitThreadCpu(before, new Map(), [101], 100)).toBeUndefined()
    expect(splitThreadCpu(before, after, [], 100)).toBeUndefined()
  })

  it('reads as a line, with the helpers’ share', () => {
    expect(threadCpuLine({ loopsMs: 2300, helpersMs: 900, simulationMs: 40 })).toBe(
      'node loops 2.30 CPU-s, helper threads 0.90 CPU-s (28 %: collector, compiler, libuv pool), simulation 0.04 CPU-s',
    )
    expect(threadCpuLine(undefined)).toBe('not measured (no /proc)')
  })
})

describe.runIf(linux)('threads of this process in /proc', () => {
  it('names the main thread by the process id and a worker by its own id, and counts its CPU', async () => {
    expect(osThreadId()).toBe(process.pid)
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads')
       const { readFileSync, readlinkSync } = require('node:fs')
       const ran = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6
       const from = ran()
       while (ran() - from < 150) Math.sqrt(Math.random())
       parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/').at(-1)))
       parentPort.once('message', () => process.exit(0))`,
      { eval: true },
    )
    const tid = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    expect(tid).not.toBe(process.pid)
    // the worker ran 150 ms of CPU before it answered: its thread's reading here says so
    expect(threadCpuMs().get(tid)).toBeGreaterThanOrEqual(150)
    worker.postMessage('exit')
    await new Promise((resolve) => worker.once('exit', resolve))
  })

  it('counts this thread’s CPU within the process’s', () => {
    const before = threadCpuMs().get(process.pid) ?? Number.NaN
    const processBefore = process.cpuUsage()
    spin(50)
    const used = process.cpuUsage(processBefore)
    const after = threadCpuMs().get(process.pid) ?? Number.NaN
    expect(after - before).toBeGreaterThanOrEqual(50)
    // getrusage counts every thread: this one's share cannot exceed it (5 ms for its rounding)
    expect(after - before).toBeLessThanOrEqual((used.user + used.system) / 1000 + 5)
  })
})

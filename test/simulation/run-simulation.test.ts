import { availableParallelism } from 'node:os'
import { threadId, Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { runCli } from '../../scripts/chaos/cli-process.ts'
import { SCENARIOS } from '../../simulations/index.ts'
import { lastLanding, runSimulation } from '../../src/simulation/run-simulation.ts'
import type { SimLayout } from '../../src/simulation/sim-mesh.ts'
import { epochNow, type SimResult } from '../../src/simulation/sim-node.ts'
import { NODE_THREAD_SEMI_SPACE_MIB } from '../../src/simulation/thread-mesh.ts'

/** The young generation's semi-space a worker thread made now starts with, bytes. */
function newWorkerSemiSpace(): Promise<number> {
  const code = `const v8 = require('node:v8')
    const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
    require('node:worker_threads').parentPort.postMessage(space.space_size)`
  const worker = new Worker(code, { eval: true })
  return new Promise((resolve, reject) => {
    worker.once('message', (size: number) => {
      void worker.terminate()
      resolve(size)
    })
    worker.once('error', reject)
  })
}

describe('runSimulation (taskmesh simulate)', () => {
  it.each<SimLayout>(['shared-loop', 'threads', 'cores'])(
    '%s: every task submitted at one node runs, spread by stealing, and every result is read back from the DHT at another node',
    async (layout) => {
      // 60 × 30 ms: 0.9 s of work queued at node 0, long enough for its peers to steal on a busy machine
      const config = {
        ...SCENARIOS.small,
        nodes: 3,
        slots: 2,
        tasks: 60,
        duration: { kind: 'fixed' as const, ms: 30 },
        layout,
        idleMs: 0,
      }
      const report = await runSimulation(config)
      expect(report.layout).toBe(layout)
      expect(report.warmUpTasks).toBe(0)
      expect(report.tasks).toBe(60)
      expect(report.succeeded).toBe(60)
      expect(report.missing + report.failed).toBe(0)
      expect(report.dhtVerified).toBe(60)
      // submitted at node 0 only: the others ran work they stole
      expect(report.tasksPerNode.reduce((a, b) => a + b, 0)).toBe(60)
      expect(report.tasksPerNode.slice(1).some((n) => n > 0)).toBe(true)
      expect(report.tasksStolen).toBeGreaterThan(0)
      // the ratio is the makespan over the ideal (60 × 30 ms over 6 slots = 300 ms)
      expect(report.idealMakespanMs).toBeCloseTo(300, 0)
      expect(report.makespanRatio).toBeCloseTo(report.makespanMs / report.idealMakespanMs, 6)
      expect(report.makespanRatio).toBeGreaterThanOrEqual(1)
      // what the run cost this process: its CPU per completed task, and how busy its event loop was
      expect(report.run.cpuMs).toBeGreaterThan(0)
      expect(report.run.cpuMsPerTask).toBeCloseTo(report.run.cpuMs / 60, 6)
      expect(report.run.eventLoopUtilization).toBeGreaterThan(0)
      expect(report.run.eventLoopUtilization).toBeLessThanOrEqual(1)
      expect(report.run.wallMs).toBeGreaterThanOrEqual(report.makespanMs)
      // the same CPU by thread: the node loops', the helpers' (collector, compiler), the simulation's
      if (process.platform === 'linux') {
        const threads = report.run.threads
        expect(threads).toBeDefined()
        const { loopsMs = 0, helpersMs = 0, simulationMs = 0 } = threads ?? {}
        expect(loopsMs).toBeGreaterThan(0)
        if (layout === 'shared-loop') expect(simulationMs).toBe(0)
        // the threads' own clocks against the process's, over the same stretch
        expect(loopsMs + helpersMs + simulationMs).toBeGreaterThan(0.7 * report.run.cpuMs - 20)
        expect(loopsMs + helpersMs + simulationMs).toBeLessThan(1.3 * report.run.cpuMs + 20)
      }
      // each event loop hosting nodes, once: this thread's, a thread per node, a thread per core
      const loops = { 'shared-loop': 1, threads: 3, cores: Math.min(3, availableParallelism()) }[layout]
      expect(report.loops).toHaveLength(loops)
      if (layout === 'shared-loop') expect(report.loops[0].thread).toBe(threadId)
      else expect(report.loops.every((l) => l.thread !== threadId)).toBe(true)
      for (const loop of report.loops) {
        expect(loop.utilization).toBeGreaterThan(0)
        expect(loop.utilization).toBeLessThanOrEqual(1)
        expect(loop.delayMaxMs).toBeGreaterThanOrEqual(loop.delayP99Ms)
        expect(loop.delayP99Ms).toBeGreaterThanOrEqual(0)
      }
      // where the slot time went: 60 × 30 ms of work in 6 slots × the makespan, the rest lost around it
      const { slotTime } = report
      expect(slotTime.nominal).toBeCloseTo(1 / report.makespanRatio, 1)
      expect(slotTime.nominal + slotTime.overrun + slotTime.gaps + slotTime.ramp + slotTime.tail).toBeCloseTo(
        1,
        6,
      )
      expect(slotTime.ramp).toBeGreaterThan(0) // the work entered at node 0: the others waited for it
      // what the work cost the nodes per task: stream bytes per protocol, under the wire's bytes
      const streamBytes = Object.values(report.perTask.bytesByProtocol).reduce((a, b) => a + b, 0)
      expect(report.perTask.bytesByProtocol.steal).toBeGreaterThan(0)
      expect(report.perTask.bytesByProtocol.replicate).toBeGreaterThan(0)
      expect(streamBytes).toBeLessThan(report.perTask.bytes)
      // memory until the results were in, and with the DHT read-back after it
      expect(report.workPeakRssMiBPerNode).toBeGreaterThan(0)
      expect(report.workPeakRssMiBPerNode).toBeLessThanOrEqual(report.peakRssMiBPerNode)
      // node threads start with a young generation sized for a node's allocation rate
      if (layout !== 'shared-loop')
        expect(await newWorkerSemiSpace()).toBeGreaterThanOrEqual(NODE_THREAD_SEMI_SPACE_MIB * 2 ** 20)
    },
  )
})

describe('a simulation with a warm-up', () => {
  it('runs the warm-up sleeps first and reports only the measured run', async () => {
    const report = await runSimulation({
      ...SCENARIOS.small,
      nodes: 3,
      slots: 2,
      tasks: 40,
      duration: { kind: 'fixed' as const, ms: 20 },
      layout: 'cores',
      warmUp: 150,
      idleMs: 0,
    })
    expect(report.warmUpTasks).toBe(150)
    // the run's 40 tasks, each once; the warm-up's 150 are in no figure of the run
    expect(report.tasks).toBe(40)
    expect(report.succeeded).toBe(40)
    expect(report.tasksPerNode.reduce((a, b) => a + b, 0)).toBe(40)
    expect(report.dhtVerified).toBe(40)
    expect(report.tasksStolen).toBeLessThanOrEqual(40)
    // the nodes' records of the run only: one signed per task at most (150 more with the warm-up's)
    expect(report.perTask.signatures * 40).toBeLessThan(120)
  })
})

describe("the workload's end", () => {
  const landed = (landedAt: number): SimResult => ({
    taskId: `t${landedAt}`,
    status: 'succeeded',
    executor: 'p',
    latencyMs: 1,
    landedAt,
    startedAt: 0,
    finishedAt: 0,
  })

  it('is the last landing at the submitting node once every result is in, not when its batch arrived', () => {
    expect(lastLanding([landed(1_000.25), landed(1_030.5), landed(1_010)], 3)).toBe(1_030.5)
  })

  it('is now when results are missing (the deadline passed) or there were none', () => {
    const before = epochNow()
    expect(lastLanding([landed(1_000)], 2)).toBeGreaterThanOrEqual(before)
    expect(lastLanding([], 0)).toBeGreaterThanOrEqual(before)
  })
})

describe('taskmesh simulate, as a child process', () => {
  it('leaves no abort listener behind: no MaxListenersExceededWarning while hundreds of results are stored', async () => {
    const run = await runCli(
      ['simulate', '--nodes', '4', '--tasks', '250', '--transport', 'memory', '--dht-check', '100', '--json'],
      120_000,
    )
    expect(run.code, run.stderr).toBe(0)
    // the read-back looks up an even spread of 100 results, and finds each
    expect(JSON.parse(run.stdout)).toMatchObject({
      tasks: 250,
      succeeded: 250,
      missing: 0,
      dhtChecked: 100,
      dhtVerified: 100,
    })
    expect(run.stderr).not.toContain('MaxListenersExceededWarning')
  }, 150_000)
})

describe('simulate --dht-check', () => {
  it('refuses a count that is not all, none or a positive integer, naming the flag', async () => {
    const run = await runCli(['simulate', '--dht-check', 'some'], 30_000)
    expect(run.code).not.toBe(0)
    expect(run.stderr).toContain('--dht-check')
    expect(run.stdout).not.toContain('simulating')
  })
})

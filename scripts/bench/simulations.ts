import { SCENARIOS } from '../../simulations/index.ts'
import { runSimulation, type SimulationReport } from '../../src/simulation/run-simulation.ts'
import { scaledWarmUp } from '../../src/simulation/warm-up.ts'
import { atMost, type BenchContext, exactly, type Figure, figuresOf, type Scenario } from './common.ts'

/** Figures every simulation reports: makespan against the ideal, steals, latency, DHT, throughput model. */
function simulationFigures(name: string, r: SimulationReport, makespanTarget: number): Figure[] {
  const f = figuresOf(name)
  return [
    f('makespan / ideal', r.makespanRatio, 'ratio', {
      target: atMost(makespanTarget),
      note: `makespan ${r.makespanMs.toFixed(0)} ms, ideal ${r.idealMakespanMs.toFixed(0)} ms, ${r.tasks} tasks on ${r.nodes} nodes / ${r.totalSlots} slots, layout ${r.layout}, after ${r.warmUpTasks} warm-up tasks`,
    }),
    f('makespan', r.makespanMs, 'ms'),
    f('ideal makespan', r.idealMakespanMs, 'ms'),
    f('steals per task', r.tasksStolen / Math.max(1, r.tasks), 'tasks stolen/task', {
      note: `${r.steals} grants, ${r.offers} offers, ${r.tasksStolen} tasks moved; per node ${r.tasksPerNode.join(' ')}`,
    }),
    f('submit→result p50', r.submitToResultMs.p50, 'ms'),
    f('submit→result p99', r.submitToResultMs.p99, 'ms', {
      note: `max ${r.submitToResultMs.max.toFixed(1)} ms`,
    }),
    f('results missing or failed', r.missing + r.failed, 'tasks', { target: exactly(0) }),
    f('results found in the DHT', r.dhtVerified ?? Number.NaN, 'records', {
      target: exactly(r.tasks),
      note: 'DHT get (cache skipped) at a node other than the submitter',
    }),
    f('predicted throughput', r.predictedTasksPerSec, 'tasks/s', { note: 'model S = 1/Σ(r_i/s_i)' }),
    f('measured throughput', r.measuredTasksPerSec, 'tasks/s', {
      baseline: { figure: 'predicted throughput', value: r.predictedTasksPerSec },
    }),
  ]
}

function simulationScenario(key: 'skewed' | 'heterogeneous', makespanTarget: number): Scenario {
  return {
    name: key,
    timeoutMs: 180_000,
    async run(ctx: BenchContext) {
      const base = SCENARIOS[key]
      if (base === undefined) throw new Error(`simulations/index.ts has no scenario "${key}"`)
      const tasks = ctx.quick ? Math.ceil(base.tasks / 4) : base.tasks
      const config = { ...base, tasks, warmUp: scaledWarmUp(base, tasks) }
      ctx.log(`${key}: ${config.nodes} nodes, ${config.tasks} tasks`)
      const report = await runSimulation(config)
      return simulationFigures(key, report, makespanTarget)
    },
  }
}

/** 8 × 4 slots, 2,000 lognormal sleeps (median 20 ms) all submitted at one node. */
export const skewed = simulationScenario('skewed', 1.05)

/** Slots 1–8, speeds 0.5–2×, all work at the slowest node. */
export const heterogeneous = simulationScenario('heterogeneous', 1.1)

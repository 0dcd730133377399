import { SCENARIOS } from '../../simulations/index.ts'
import { runSimulation } from '../../src/simulation/run-simulation.ts'
import type { SlotTime } from '../../src/simulation/slot-time.ts'
import type { ThreadCpu } from '../../src/simulation/thread-cpu.ts'
import { scaledWarmUp } from '../../src/simulation/warm-up.ts'
import type { CompareContext } from './context.ts'
import { measuredRounds } from './skewed.ts'

/** One run of an in-process simulation: its makespan / ideal, where its slot time and CPU went. */
export interface SimulationRun {
  ratio: number
  slotTime: SlotTime
  threads?: ThreadCpu
}

/** The in-process simulations (`npm run bench`'s skewed and heterogeneous), run by run. */
export async function simulations(
  ctx: CompareContext,
): Promise<Record<'skewed' | 'heterogeneous', SimulationRun[]>> {
  const out: Record<'skewed' | 'heterogeneous', SimulationRun[]> = { skewed: [], heterogeneous: [] }
  for (let round = 1; round <= measuredRounds(ctx.quick); round++) {
    for (const key of ['skewed', 'heterogeneous'] as const) {
      const base = SCENARIOS[key]
      const tasks = ctx.quick ? Math.ceil(base.tasks / 4) : base.tasks
      const config = { ...base, tasks, warmUp: scaledWarmUp(base, tasks) }
      ctx.log(
        `simulation ${key}, run ${round}: ${config.nodes} nodes in this process (layout ${config.layout}), ${config.warmUp} warm-up sleeps, then ${tasks} tasks`,
      )
      const report = await runSimulation(config)
      out[key].push({ ratio: report.makespanRatio, slotTime: report.slotTime, threads: report.run.threads })
    }
  }
  return out
}

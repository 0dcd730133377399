import { SCENARIOS } from '../../simulations/index.ts'
import { byProtocol } from '../../src/simulation/report-text.ts'
import { runSimulation, type SimulationReport } from '../../src/simulation/run-simulation.ts'
import { atMost, type BenchContext, type Figure, figuresOf, type Scenario } from './common.ts'

/** Mesh sizes of the scaling table, smallest first (each run starts from the heap the last left). */
const SIZES = [8, 32, 100]
/** Tasks of the full run (the 100 × 4, 10,000 tasks); `--quick` runs a quarter. */
const TASKS = 10_000

/** Targets at the largest mesh. */
const TARGETS = {
  makespanRatio: 1.25,
  meshFormedMs: 10_000,
  rssMiBPerNode: 15,
  idleCpuPercentPerNode: 1,
  /** Per-task messages and verifications at the largest mesh over those at the smallest. */
  growth: 1.5,
}

/** The figures of one mesh size; targets only on the largest. */
function sizeFigures(r: SimulationReport, largest: boolean): Figure[] {
  const f = figuresOf(`scaling ${r.nodes}`)
  const t = <T>(target: T) => (largest ? target : undefined)
  return [
    f('makespan / ideal', r.makespanRatio, 'ratio', {
      target: t(atMost(TARGETS.makespanRatio)),
      note: `makespan ${r.makespanMs.toFixed(0)} ms, ideal ${r.idealMakespanMs.toFixed(0)} ms, ${r.tasks} tasks, ${r.totalSlots} slots; missing ${r.missing}`,
    }),
    f('main-thread CPU per task', r.run.cpuMsPerTask, 'ms', {
      note: `${(r.run.cpuMs / 1000).toFixed(1)} CPU-s over a ${(r.makespanMs / 1000).toFixed(1)} s makespan (ideal ${(r.idealMakespanMs / 1000).toFixed(1)} s), event loop ${(100 * r.run.eventLoopUtilization).toFixed(0)} % busy: every node shares one loop`,
    }),
    f('mesh formed', r.meshFormationMs, 'ms', {
      target: t(atMost(TARGETS.meshFormedMs)),
      note: `from the first dial until every node heard as many peers as it planned neighbours; nodes started in ${r.nodesStartMs.toFixed(0)} ms`,
    }),
    f('peak RSS per node', r.peakRssMiBPerNode, 'MiB', {
      target: t(atMost(TARGETS.rssMiBPerNode)),
      note: 'process RSS / nodes',
    }),
    f('idle CPU per node', r.idleCpuPercentPerNode, '% of a core', {
      target: t(atMost(TARGETS.idleCpuPercentPerNode)),
      note: 'process CPU over 3 idle s / nodes',
    }),
    f('messages per task', r.perTask.messages, 'messages', {
      note: Object.entries(r.perTask.messagesByProtocol)
        .filter(([, v]) => v >= 0.05)
        .sort((a, b) => b[1] - a[1])
        .map(([p, v]) => `${p} ${v.toFixed(2)}`)
        .join(', '),
    }),
    f('bytes per task', r.perTask.bytes, 'bytes', { note: byProtocol(r.perTask.bytesByProtocol) }),
    f('verifications per task', r.perTask.verifications, 'verifications', {
      note: `${r.perTask.signatures.toFixed(2)} signatures per task`,
    }),
    f('steals per task', r.tasksStolen / Math.max(1, r.tasks), 'tasks stolen/task', {
      note: `${r.steals} grants, ${r.offers} offers`,
    }),
  ]
}

/**
 * The same skewed workload (lognormal sleeps, median 20 ms, all submitted at one node) on meshes of
 * 8, 32 and 100 nodes × 4 slots in this process (memory transport, dialled as a ring with chords),
 * so growth with N shows in one run: makespan / ideal, per-task messages and verifications, idle
 * CPU and memory per node. Targets are judged at 100 nodes, growth against 8.
 */
export const scaling: Scenario = {
  name: 'scaling',
  timeoutMs: 90 * 60_000,
  async run(ctx: BenchContext) {
    const base = SCENARIOS.skewed
    if (base === undefined) throw new Error('simulations/index.ts has no scenario "skewed"')
    const tasks = ctx.quick ? TASKS / 4 : TASKS
    const reports: SimulationReport[] = []
    for (const nodes of SIZES) {
      ctx.log(`${nodes} nodes × 4 slots, ${tasks} tasks`)
      const { trace: _, ...report } = await runSimulation({
        ...base,
        name: `scaling-${nodes}`,
        nodes,
        slots: 4,
        tasks,
        transport: 'memory',
        // the memory transport joins the nodes of one event loop; cold, as this table always ran
        layout: 'shared-loop',
        warmUp: 0,
        verifyDht: false,
        // every task completes, however slowly: the per-task figures compare whole workloads
        deadlineMs: 20 * 60_000,
      })
      ctx.log(
        `  makespan/ideal ${report.makespanRatio.toFixed(2)}, formed ${(report.meshFormationMs / 1000).toFixed(1)} s, ${report.perTask.messages.toFixed(1)} msgs/task`,
      )
      reports.push(report)
    }
    const first = reports[0]
    const last = reports[reports.length - 1]
    const f = figuresOf('scaling')
    return [
      ...reports.flatMap((r) => sizeFigures(r, r === last)),
      f(
        `messages per task, ${last.nodes} vs ${first.nodes} nodes`,
        last.perTask.messages / first.perTask.messages,
        'ratio',
        {
          target: atMost(TARGETS.growth),
        },
      ),
      f(
        `verifications per task, ${last.nodes} vs ${first.nodes} nodes`,
        last.perTask.verifications / first.perTask.verifications,
        'ratio',
        { target: atMost(TARGETS.growth) },
      ),
    ]
  },
}

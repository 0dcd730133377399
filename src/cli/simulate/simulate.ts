import { SCENARIOS } from '../../../simulations/index.ts'
import { parseDuration } from '../../simulation/random.ts'
import { makeReportDir, writeHtmlReport } from '../../simulation/report-html.ts'
import { DEFAULT_DHT_READS, formatReport } from '../../simulation/report-text.ts'
import { runSimulation, type SimulationConfig, type SubmitPattern } from '../../simulation/run-simulation.ts'
import type { SimLayout } from '../../simulation/sim-mesh.ts'
import { scaledWarmUp } from '../../simulation/warm-up.ts'
import { simulationProgress } from './sim-progress.ts'

/** Flags of `taskmesh simulate`; each overrides the scenario's field. */
export interface SimulateFlags {
  scenario: string
  nodes?: number
  slots?: number
  tasks?: number
  duration?: string
  submit?: string
  transport?: string
  layout?: string
  warmUp?: number
  seed?: number
  degree?: number
  /** Peers each node copies its records to. @defaultValue the scenario's, else the nodes' default */
  recordCopies?: number
  /** Peers each node hands the tasks it owns to. @defaultValue the scenario's, else the nodes' default */
  custodians?: number
  /** Results read back from the DHT: all, none, or at most this many. @defaultValue DEFAULT_DHT_READS */
  dhtCheck?: number | 'all' | 'none'
  /** Directory to write `report.html` into. */
  report?: string
  json: boolean
}

/** Builds the scenario from its name and the flags, refusing unknown values by name. */
export function simulationConfig(flags: SimulateFlags): SimulationConfig {
  const base = SCENARIOS[flags.scenario]
  if (base === undefined) {
    throw new Error(`unknown scenario "${flags.scenario}" (known: ${Object.keys(SCENARIOS).join(', ')})`)
  }
  if (flags.submit !== undefined && flags.submit !== 'one-node' && flags.submit !== 'round-robin') {
    throw new Error(`--submit must be one-node or round-robin, got "${flags.submit}"`)
  }
  if (flags.transport !== undefined && flags.transport !== 'tcp' && flags.transport !== 'memory') {
    throw new Error(`--transport must be tcp or memory, got "${flags.transport}"`)
  }
  const transport = (flags.transport as 'tcp' | 'memory' | undefined) ?? base.transport
  const tasks = flags.tasks ?? base.tasks
  return {
    ...base,
    nodes: flags.nodes ?? base.nodes,
    slots: flags.slots ?? base.slots,
    tasks,
    duration: flags.duration === undefined ? base.duration : parseDuration(flags.duration),
    submit: (flags.submit as SubmitPattern | undefined) ?? base.submit,
    transport,
    // the in-memory transport joins nodes of one event loop only
    layout: (flags.layout as SimLayout | undefined) ?? (transport === 'memory' ? 'shared-loop' : base.layout),
    warmUp: flags.warmUp ?? scaledWarmUp(base, tasks),
    seed: flags.seed ?? base.seed,
    degree: flags.degree ?? base.degree,
    recordCopies: flags.recordCopies ?? base.recordCopies,
    custodians: flags.custodians ?? base.custodians,
    verifyDht: flags.dhtCheck !== 'none',
    ...(flags.dhtCheck === 'all'
      ? {}
      : { dhtReads: typeof flags.dhtCheck === 'number' ? flags.dhtCheck : DEFAULT_DHT_READS }),
  }
}

/** `taskmesh simulate`: runs the scenario on real nodes in this process and prints the report. */
export async function runSimulate(flags: SimulateFlags): Promise<void> {
  const config = simulationConfig(flags)
  if (flags.report !== undefined) {
    // before the run: a directory that cannot be made would waste it
    const dir = flags.report
    if (dir === '') throw new Error('--report: give a directory')
    await makeReportDir(dir).catch((err: Error) => {
      throw new Error(`--report: ${err.message}`)
    })
  }
  if (!flags.json) {
    console.log(
      `simulating ${config.name}: ${config.nodes} nodes, ${config.tasks} tasks, submitted ${config.submit ?? 'one-node'}, layout ${config.layout ?? 'shared-loop'}, warm-up ${config.warmUp ?? 0} tasks…`,
    )
  }
  const progress = simulationProgress()
  let traced: Awaited<ReturnType<typeof runSimulation>>
  try {
    traced = await runSimulation(config, {
      onProgress: progress.onProgress,
      trace: flags.report !== undefined,
    })
  } finally {
    progress.stop()
  }
  const { trace, ...report } = traced
  console.log(flags.json ? JSON.stringify(report, null, 2) : formatReport(report))
  if (flags.report !== undefined && trace !== undefined) {
    const { path, kept } = await writeHtmlReport(flags.report, report, trace)
    if (kept !== undefined) console.error(`the report there before is kept as ${kept}`)
    console.error(`report written to ${path}`)
  }
  if (report.missing > 0) process.exitCode = 1
}

import type { WorkerPool } from '../executor/worker-pool.ts'
import { type DurationDistribution, quantile, sampleDuration, seededRandom } from './random.ts'
import { type SimLayout, startSimMesh } from './sim-mesh.ts'
import type { SimNode, SimResult } from './sim-node.ts'

/** Where the workload enters the mesh. */
export type SubmitPattern = 'one-node' | 'round-robin'

/** A simulation scenario: the mesh and its workload. */
export interface SimulationConfig {
  name: string
  nodes: number
  /** Slots per node: one number for all, or one per node. */
  slots: number | number[]
  /** Speed factor per node (1 = nominal; `sleep` runs 1/speed as long). @defaultValue all 1 */
  speeds?: number[]
  tasks: number
  duration: DurationDistribution
  /** @defaultValue 'one-node' */
  submit?: SubmitPattern
  /** @defaultValue 'tcp' */
  transport?: 'tcp' | 'memory'
  /** Seed of the workload's random durations. @defaultValue 1 */
  seed?: number
  /** Verify every result by a DHT get at a node other than the submitter. @defaultValue true */
  verifyDht?: boolean
  /**
   * Where the nodes run: each in a thread of its own (its own event loop, as on separate machines;
   * TCP only), or all in this event loop. @defaultValue 'shared-loop' (on a 2-core machine, 8 node threads
   * contend for the cores: the skewed run's makespan was 3× the shared loop's)
   */
  layout?: SimLayout
  /**
   * Longest the run may take once submitted, ms; results still missing then are reported missing.
   * @defaultValue 120 s, or 50 × the ideal makespan if longer
   */
  deadlineMs?: number
}

/** Figures of one simulation run. */
export interface SimulationReport {
  name: string
  nodes: number
  totalSlots: number
  tasks: number
  succeeded: number
  failed: number
  missing: number
  /** Results read back from the DHT at another node (when verified). */
  dhtVerified: number | null
  makespanMs: number
  /** Total work / Σ(slots × speed), or the longest task on the fastest node if longer. */
  idealMakespanMs: number
  makespanRatio: number
  /** Tasks per second the throughput model predicts (S = 1 / Σ r_i/s_i per slot, summed over slots) vs measured. */
  predictedTasksPerSec: number
  measuredTasksPerSec: number
  tasksPerNode: number[]
  steals: number
  tasksStolen: number
  submitToResultMs: { p50: number; p99: number; max: number }
}

/** Runs a scenario on real nodes in this process and reports its figures. */
export async function runSimulation(config: SimulationConfig, pool?: WorkerPool): Promise<SimulationReport> {
  const random = seededRandom(config.seed ?? 1)
  const durations = Array.from({ length: config.tasks }, () => sampleDuration(config.duration, random))
  const nodes = await startSimMesh({
    layout: config.layout ?? 'shared-loop',
    pool,
    nodes: Array.from({ length: config.nodes }, (_, i) => ({
      slots: Array.isArray(config.slots) ? config.slots[i % config.slots.length] : config.slots,
      speed: config.speeds?.[i % config.speeds.length] ?? 1,
      transport: config.transport ?? 'tcp',
      beaconIntervalMs: 1000,
    })),
  })
  try {
    return await drive(config, nodes, durations)
  } finally {
    await Promise.all(nodes.map((n) => n.stop()))
  }
}

async function drive(
  config: SimulationConfig,
  nodes: SimNode[],
  durations: number[],
): Promise<SimulationReport> {
  const totalSlots = nodes.reduce((sum, n) => sum + n.slots, 0)
  const capacity = nodes.reduce(
    (sum, n, i) => sum + n.slots * (config.speeds?.[i % config.speeds.length] ?? 1),
    0,
  )
  const pattern = config.submit ?? 'one-node'
  const latencies: number[] = []
  const results = new Map<string, SimResult>()
  let resolveAll: () => void = () => undefined
  const allIn = new Promise<void>((resolve) => {
    resolveAll = resolve
  })
  const onResult = (r: SimResult) => {
    if (results.has(r.taskId)) return
    results.set(r.taskId, r)
    latencies.push(r.latencyMs)
    if (results.size === durations.length) resolveAll()
  }
  const started = performance.now()
  const CHUNK = 500
  const submissions: Promise<string[]>[] = []
  for (let i = 0; i < durations.length; i += CHUNK) {
    const groups = new Map<number, number[]>()
    durations.slice(i, i + CHUNK).forEach((ms, j) => {
      const at = pattern === 'one-node' ? 0 : (i + j) % nodes.length
      groups.set(at, [...(groups.get(at) ?? []), ms])
    })
    for (const [at, list] of groups) {
      const submission = nodes[at].submit(
        list.map((ms) => ({ type: 'sleep', input: { ms } })),
        onResult,
      )
      submissions.push(submission)
      await submission // chunks enter one after another, as a client would send them
    }
  }
  const ids = (await Promise.all(submissions)).flat()
  const totalWork = durations.reduce((a, b) => a + b, 0)
  const fastest = Math.max(1, ...(config.speeds ?? [1]))
  const idealMakespanMs = Math.max(totalWork / capacity, Math.max(...durations) / fastest)
  const deadlineMs = config.deadlineMs ?? Math.max(120_000, 50 * idealMakespanMs)
  if (durations.length > 0) {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([allIn, new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)))])
    clearTimeout(timer)
  }
  const makespanMs = performance.now() - started
  const perNode = new Map<string, number>()
  for (const r of results.values()) perNode.set(r.executor, (perNode.get(r.executor) ?? 0) + 1)
  let dhtVerified: number | null = null
  if (config.verifyDht !== false) {
    await Promise.all(nodes.map((n) => n.flushResults()))
    dhtVerified = await nodes[nodes.length - 1].countInDht(ids)
  }
  const stats = await Promise.all(nodes.map((n) => n.counters()))
  const values = [...results.values()]
  return {
    name: config.name,
    nodes: nodes.length,
    totalSlots,
    tasks: durations.length,
    succeeded: values.filter((r) => r.status === 'succeeded').length,
    failed: values.filter((r) => r.status === 'failed').length,
    missing: durations.length - results.size,
    dhtVerified,
    makespanMs,
    idealMakespanMs,
    makespanRatio: makespanMs / idealMakespanMs,
    predictedTasksPerSec: durations.length / (idealMakespanMs / 1000),
    measuredTasksPerSec: durations.length / (makespanMs / 1000),
    tasksPerNode: nodes.map((n) => perNode.get(n.peerId) ?? 0),
    steals: stats.reduce((s, c) => s + c.stealsGranted, 0),
    tasksStolen: stats.reduce((s, c) => s + c.tasksStolen, 0),
    submitToResultMs: {
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      max: Math.max(...latencies),
    },
  }
}

/** Renders a report as aligned text lines. */
export function formatReport(r: SimulationReport): string {
  const ms = (v: number) => `${v.toFixed(1)} ms`
  return [
    `scenario            ${r.name}`,
    `nodes / slots       ${r.nodes} / ${r.totalSlots}`,
    `tasks               ${r.tasks} (succeeded ${r.succeeded}, failed ${r.failed}, missing ${r.missing})`,
    `results in DHT      ${r.dhtVerified === null ? 'not checked' : `${r.dhtVerified} / ${r.tasks}`}`,
    `makespan            ${ms(r.makespanMs)}`,
    `ideal makespan      ${ms(r.idealMakespanMs)}`,
    `makespan / ideal    ${r.makespanRatio.toFixed(3)}`,
    `throughput          predicted ${r.predictedTasksPerSec.toFixed(0)} tasks/s, measured ${r.measuredTasksPerSec.toFixed(0)} tasks/s`,
    `tasks per node      ${r.tasksPerNode.join(' ')}`,
    `steals              ${r.steals} grants, ${r.tasksStolen} tasks (${(r.tasksStolen / Math.max(1, r.tasks)).toFixed(2)} per task)`,
    `submit → result     p50 ${ms(r.submitToResultMs.p50)}, p99 ${ms(r.submitToResultMs.p99)}, max ${ms(r.submitToResultMs.max)}`,
  ].join('\n')
}

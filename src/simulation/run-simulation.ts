import type { WorkerPool } from '../executor/worker-pool.ts'
import {
  idleCpuPercent,
  measureRunCost,
  type PerTaskCost,
  perTaskCost,
  RssMeter,
  type RunCost,
} from './measure.ts'
import type { MeshProgress } from './mesh.ts'
import { type DurationDistribution, quantile, sampleDuration, seededRandom } from './random.ts'
import { DHT_CHECK_CHUNK, evenSpread } from './report-text.ts'
import { type SimLayout, startSimMesh } from './sim-mesh.ts'
import type { SimNode, SimResult } from './sim-node.ts'
import { type SimulationTrace, TraceRecorder } from './trace.ts'

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
  /** Verify results by a DHT get at a node other than the submitter. @defaultValue true */
  verifyDht?: boolean
  /**
   * Results read back from the DHT at most: an even spread over the tasks when there are more. A
   * get is a Kademlia lookup (about 20 `GET_VALUE` queries in a mesh of bounded degree): ~0.2 s
   * of CPU each with 100 nodes on one event loop. @defaultValue every result
   */
  dhtReads?: number
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
  /** Connections each node plans (see `meshTopology`; a mesh of degree + 1 or fewer is complete). @defaultValue 8 */
  degree?: number
  /** How long the formed mesh idles before the workload, to measure idle CPU, ms. @defaultValue 3000 */
  idleMs?: number
}

/** How far a simulation got, for a progress display. */
export type SimulationProgress =
  | MeshProgress
  | { phase: 'idle'; done: number; total: number }
  | { phase: 'submit' | 'run' | 'verify'; done: number; total: number }

/** Hooks of {@link runSimulation}. */
export interface SimulationHooks {
  /** A worker pool the shared-loop nodes share. */
  pool?: WorkerPool
  /** Told as nodes start, the mesh forms, tasks are submitted, results come in and are verified. */
  onProgress?: (event: SimulationProgress) => void
  /** Record a trace (runs per node, queue depths and steals over time) for plots. */
  trace?: boolean
}

/** A report with the trace it was asked to record. */
export type TracedReport = SimulationReport & { trace?: SimulationTrace }

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
  /** Results looked up for {@link dhtVerified}: every task, or an even spread of them. */
  dhtChecked: number
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
  /** From the first dial until every node heard as many peers as it has planned neighbours, ms. */
  meshFormationMs: number
  /** Starting the nodes (before any dial), ms. */
  nodesStartMs: number
  /** CPU time this process spent forming the mesh (dials, handshakes, first beacons), ms. */
  meshFormationCpuMs: number
  /** Peak resident memory of this process (all nodes) over the run, divided by the nodes, MiB. */
  peakRssMiBPerNode: number
  /**
   * The same until the last result was in, before the DHT read-back (whose lookups dial peers
   * beyond the reader's neighbours), MiB.
   */
  workPeakRssMiBPerNode: number
  /** CPU of this process while the formed mesh idled, divided by the nodes, % of one core. */
  idleCpuPercentPerNode: number
  /** What the workload cost per task that completed, from the nodes' accounting (submit to the last record stored). */
  perTask: PerTaskCost
  /**
   * What the process spent from the first submission to the last result: CPU time and the main
   * event loop's utilisation. All shared-loop nodes run on one event loop (one core at most), so
   * `cpuMs` beside `idealMakespanMs` shows whether that loop, not the slots, bounds the makespan.
   */
  run: RunCost & { cpuMsPerTask: number }
}

/** Runs a scenario on real nodes in this process and reports its figures. */
export async function runSimulation(
  config: SimulationConfig,
  hooks: SimulationHooks = {},
): Promise<TracedReport> {
  const random = seededRandom(config.seed ?? 1)
  const durations = Array.from({ length: config.tasks }, () => sampleDuration(config.duration, random))
  const rss = new RssMeter()
  const t0 = performance.now()
  let startedAt = t0
  let cpuAtStart = process.cpuUsage()
  const nodes = await startSimMesh({
    layout: config.layout ?? 'shared-loop',
    pool: hooks.pool,
    degree: config.degree,
    onProgress: (e) => {
      if (e.phase === 'start' && e.done === e.total) {
        startedAt = performance.now()
        cpuAtStart = process.cpuUsage()
      }
      hooks.onProgress?.(e)
    },
    nodes: Array.from({ length: config.nodes }, (_, i) => ({
      slots: Array.isArray(config.slots) ? config.slots[i % config.slots.length] : config.slots,
      speed: config.speeds?.[i % config.speeds.length] ?? 1,
      transport: config.transport ?? 'tcp',
      beaconIntervalMs: 1000,
    })),
  })
  const formCpu = process.cpuUsage(cpuAtStart)
  const mesh = {
    nodesStartMs: startedAt - t0,
    meshFormationMs: performance.now() - startedAt,
    meshFormationCpuMs: (formCpu.user + formCpu.system) / 1000,
  }
  try {
    const idleMs = config.idleMs ?? 3000
    hooks.onProgress?.({ phase: 'idle', done: 0, total: 1 })
    const idleCpu = idleMs > 0 ? (await idleCpuPercent(idleMs)) / nodes.length : Number.NaN
    hooks.onProgress?.({ phase: 'idle', done: 1, total: 1 })
    let workPeak: number | undefined
    const report = await drive(config, nodes, durations, {
      ...hooks,
      onProgress: (e) => {
        if (e.phase === 'verify' && workPeak === undefined) workPeak = rss.peakBytes
        hooks.onProgress?.(e)
      },
    })
    const peak = rss.peakBytes
    return {
      ...report,
      ...mesh,
      idleCpuPercentPerNode: idleCpu,
      peakRssMiBPerNode: peak / 2 ** 20 / nodes.length,
      workPeakRssMiBPerNode: (workPeak ?? peak) / 2 ** 20 / nodes.length,
    }
  } finally {
    rss.stop()
    await Promise.all(nodes.map((n) => n.stop()))
  }
}

type DriveReport = Omit<
  SimulationReport,
  | 'meshFormationMs'
  | 'meshFormationCpuMs'
  | 'nodesStartMs'
  | 'peakRssMiBPerNode'
  | 'workPeakRssMiBPerNode'
  | 'idleCpuPercentPerNode'
>

async function drive(
  config: SimulationConfig,
  nodes: SimNode[],
  durations: number[],
  hooks: SimulationHooks,
): Promise<DriveReport & { trace?: SimulationTrace }> {
  const progress = hooks.onProgress ?? (() => undefined)
  const recorder = hooks.trace === true ? new TraceRecorder(nodes) : undefined
  const before = await Promise.all(nodes.map((n) => n.accounting()))
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
    recorder?.result(r)
    progress({ phase: 'run', done: results.size, total: durations.length })
    if (results.size === durations.length) resolveAll()
  }
  recorder?.start()
  const runCost = measureRunCost()
  const started = performance.now()
  let submitted = 0
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
      submitted += list.length
      progress({ phase: 'submit', done: submitted, total: durations.length })
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
  const cost = runCost()
  await recorder?.stop()
  const perNode = new Map<string, number>()
  for (const r of results.values()) perNode.set(r.executor, (perNode.get(r.executor) ?? 0) + 1)
  await Promise.all(nodes.map((n) => n.flushResults()))
  const after = await Promise.all(nodes.map((n) => n.accounting()))
  let dhtVerified: number | null = null
  const checked = config.verifyDht === false ? [] : evenSpread(ids, config.dhtReads ?? ids.length)
  if (config.verifyDht !== false) {
    dhtVerified = 0
    for (let done = 0; done < checked.length; done += DHT_CHECK_CHUNK) {
      progress({ phase: 'verify', done, total: checked.length })
      dhtVerified += await nodes[nodes.length - 1].countInDht(checked.slice(done, done + DHT_CHECK_CHUNK))
    }
    progress({ phase: 'verify', done: checked.length, total: checked.length })
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
    dhtChecked: checked.length,
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
    perTask: perTaskCost(before, after, results.size),
    run: { ...cost, cpuMsPerTask: cost.cpuMs / Math.max(1, results.size) },
    ...(recorder === undefined ? {} : { trace: recorder.trace }),
  }
}

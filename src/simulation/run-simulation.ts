import { DEFAULT_CUSTODIANS, DEFAULT_RECORD_COPIES } from '../protocol/constants.ts'
import { distinctLoops } from './loop-meter.ts'
import { idleCpuPercent, measureRunCost, perTaskCost, RssMeter } from './measure.ts'
import { quantile, sampleDuration, seededRandom } from './random.ts'
import { DHT_CHECK_CHUNK, evenSpread } from './report-text.ts'
import { startSimMesh } from './sim-mesh.ts'
import { epochNow, type SimNode, type SimResult } from './sim-node.ts'
import type { SimulationConfig, SimulationHooks, SimulationReport, TracedReport } from './simulation-types.ts'
import { slotTime } from './slot-time.ts'
import { osThreadId, splitThreadCpu, threadCpuMs } from './thread-cpu.ts'
import { type SimulationTrace, TraceRecorder } from './trace.ts'
import { submitSleeps, warmUp, warmUpDurations } from './warm-up.ts'

export type {
  SimulationConfig,
  SimulationHooks,
  SimulationProgress,
  SimulationReport,
  SubmitPattern,
  TracedReport,
} from './simulation-types.ts'

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
      speed: speedAt(config, i),
      transport: config.transport ?? 'tcp',
      beaconIntervalMs: 1000,
      recordCopies: config.recordCopies,
      custodians: config.custodians,
    })),
  })
  const formCpu = process.cpuUsage(cpuAtStart)
  const mesh = {
    nodesStartMs: startedAt - t0,
    meshFormationMs: performance.now() - startedAt,
    meshFormationCpuMs: (formCpu.user + formCpu.system) / 1000,
  }
  try {
    const warm = warmUpDurations(durations, config.warmUp ?? 0)
    await warmUp(nodes, warm, config.submit ?? 'one-node', hooks.onProgress ?? (() => undefined))
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
      layout: config.layout ?? 'shared-loop',
      warmUpTasks: warm.length,
      recordCopies: config.recordCopies ?? DEFAULT_RECORD_COPIES,
      custodians: config.custodians ?? DEFAULT_CUSTODIANS,
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
  | 'layout'
  | 'warmUpTasks'
  | 'recordCopies'
  | 'custodians'
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
  const countedBefore = await Promise.all(nodes.map((n) => n.counters()))
  const totalSlots = nodes.reduce((sum, n) => sum + n.slots, 0)
  const capacity = nodes.reduce((sum, n, i) => sum + n.slots * speedAt(config, i), 0)
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
  await Promise.all(nodes.map((n) => n.startLoopMeter()))
  const runCost = measureRunCost()
  const threadsBefore = threadCpuMs()
  const started = epochNow()
  const { ids, durationOf } = await submitSleeps(nodes, durations, pattern, onResult, (done) =>
    progress({ phase: 'submit', done, total: durations.length }),
  )
  const totalWork = durations.reduce((a, b) => a + b, 0)
  const fastest = Math.max(1, ...(config.speeds ?? [1]))
  const idealMakespanMs = Math.max(totalWork / capacity, Math.max(...durations) / fastest)
  const deadlineMs = config.deadlineMs ?? Math.max(120_000, 50 * idealMakespanMs)
  if (durations.length > 0) {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([allIn, new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)))])
    clearTimeout(timer)
  }
  const makespanMs = lastLanding(results.values(), durations.length) - started
  const cost = runCost()
  const threadsAfter = threadCpuMs()
  const loops = distinctLoops(await Promise.all(nodes.map((n) => n.loopStats())))
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
  /** A counter's growth over the run, summed over the nodes (a warm-up's steals are not the run's). */
  const grown = (key: 'stealsGranted' | 'offersTaken' | 'tasksStolen') =>
    stats.reduce((sum, c, i) => sum + c[key] - countedBefore[i][key], 0)
  const values = [...results.values()]
  const index = new Map(nodes.map((n, i) => [n.peerId, i]))
  const runs = values.map((r) => {
    const node = index.get(r.executor) ?? 0
    const [startMs, endMs] = [r.startedAt - started, r.finishedAt - started]
    return { node, startMs, endMs, nominalMs: (durationOf.get(r.taskId) ?? 0) / speedAt(config, node) }
  })
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
    steals: grown('stealsGranted'),
    offers: grown('offersTaken'),
    tasksStolen: grown('tasksStolen'),
    submitToResultMs: {
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      max: Math.max(...latencies),
    },
    perTask: perTaskCost(before, after, results.size),
    run: {
      ...cost,
      cpuMsPerTask: cost.cpuMs / Math.max(1, results.size),
      // this thread is the simulation's (in the shared loop, the one loop too)
      threads: splitThreadCpu(
        threadsBefore,
        threadsAfter,
        loops.map((l) => l.tid),
        osThreadId() ?? process.pid,
      ),
    },
    loops,
    slotTime: slotTime(
      runs,
      nodes.map((n) => n.slots),
      makespanMs,
    ),
    ...(recorder === undefined ? {} : { trace: recorder.trace }),
  }
}

/**
 * When the workload ended: the last result's landing at its submitting node once every result is
 * in (their batches reach this thread some ms later), else now (the deadline passed).
 */
export function lastLanding(results: Iterable<SimResult>, expected: number): number {
  let last = 0
  let count = 0
  for (const r of results) {
    count++
    if (r.landedAt > last) last = r.landedAt
  }
  return count > 0 && count === expected ? last : epochNow()
}

/** Node `i`'s speed factor in `config` (its list repeats over the nodes; 1 without one). */
function speedAt(config: SimulationConfig, i: number): number {
  return config.speeds?.[i % config.speeds.length] ?? 1
}

import { loopsLine } from './loop-meter.ts'
import type { SimulationReport } from './run-simulation.ts'
import type { SlotTime } from './slot-time.ts'
import { threadCpuLine } from './thread-cpu.ts'

/**
 * The simulation's report as text, and its DHT read-back: which results are read, and how the
 * count reads.
 */

/** Results read back from the DHT by default when the caller does not say (`--dht-check`). */
export const DEFAULT_DHT_READS = 1000

/** Results read back per call to a node (progress is told between calls). */
export const DHT_CHECK_CHUNK = 128

/** `count` of `items` spread evenly (all of them when there are no more). */
export function evenSpread<T>(items: T[], count: number): T[] {
  if (count >= items.length) return items
  return Array.from({ length: Math.max(0, count) }, (_, i) => items[Math.floor((i * items.length) / count)])
}

/** How many results the DHT gave back, of how many looked up. */
export function dhtLine(r: Pick<SimulationReport, 'dhtVerified' | 'dhtChecked' | 'tasks'>): string {
  if (r.dhtVerified === null) return 'not checked'
  const spread = r.dhtChecked < r.tasks ? ` (an even spread of the ${r.tasks} tasks)` : ''
  return `${r.dhtVerified} / ${r.dhtChecked} read back${spread}`
}

/** Renders a report as aligned text lines. */
export function formatReport(r: SimulationReport): string {
  const ms = (v: number) => `${v.toFixed(1)} ms`
  return [
    `scenario            ${r.name}`,
    `nodes / slots       ${r.nodes} / ${r.totalSlots}`,
    `run                 layout ${r.layout}, after ${r.warmUpTasks} warm-up tasks, records copied to ${r.recordCopies} peers, tasks held by ${r.custodians} custodians`,
    `tasks               ${r.tasks} (succeeded ${r.succeeded}, failed ${r.failed}, missing ${r.missing})`,
    `results in DHT      ${dhtLine(r)}`,
    `makespan            ${ms(r.makespanMs)}`,
    `ideal makespan      ${ms(r.idealMakespanMs)}`,
    `makespan / ideal    ${r.makespanRatio.toFixed(3)}`,
    `throughput          predicted ${r.predictedTasksPerSec.toFixed(0)} tasks/s, measured ${r.measuredTasksPerSec.toFixed(0)} tasks/s`,
    `tasks per node      ${r.tasksPerNode.join(' ')}`,
    `steals              ${r.steals} grants, ${r.offers} offers, ${r.tasksStolen} tasks (${(r.tasksStolen / Math.max(1, r.tasks)).toFixed(2)} per task)`,
    `submit → result     p50 ${ms(r.submitToResultMs.p50)}, p99 ${ms(r.submitToResultMs.p99)}, max ${ms(r.submitToResultMs.max)}`,
    `run cost            ${(r.run.cpuMs / 1000).toFixed(1)} CPU-s (${ms(r.run.cpuMsPerTask)} per task)`,
    `cpu by thread       ${threadCpuLine(r.run.threads)}`,
    `node event loops    ${loopsLine(r.loops)}`,
    `slot time           ${slotTimeLine(r.slotTime)}`,
    `mesh formed         ${ms(r.meshFormationMs)}, ${(r.meshFormationCpuMs / 1000).toFixed(1)} CPU-s (nodes started in ${ms(r.nodesStartMs)})`,
    `peak RSS per node   ${r.workPeakRssMiBPerNode.toFixed(1)} MiB until the results were in, ${r.peakRssMiBPerNode.toFixed(1)} MiB with the DHT check (process RSS / nodes)`,
    `idle CPU per node   ${r.idleCpuPercentPerNode.toFixed(2)} % of a core (process CPU / nodes)`,
    `per task            ${r.perTask.messages.toFixed(1)} messages, ${(r.perTask.bytes / 1024).toFixed(1)} KiB, ${r.perTask.verifications.toFixed(2)} verifications, ${r.perTask.signatures.toFixed(2)} signatures`,
    `bytes per task      ${byProtocol(r.perTask.bytesByProtocol)}`,
  ].join('\n')
}

/**
 * `work 76 %, runs overran it 17 %, idle: between runs 3 %, before the first 2 %, after the last 2 %`:
 * where the slots' time went (see {@link SlotTime}).
 */
export function slotTimeLine(t: SlotTime): string {
  const pct = (v: number) => `${(100 * v).toFixed(0)} %`
  return `work ${pct(t.nominal)}, runs overran it ${pct(t.overrun)}, idle: between runs ${pct(t.gaps)}, before the first ${pct(t.ramp)}, after the last ${pct(t.tail)}`
}

/** `replicate 3.3 KiB, steal 2.0 KiB, …`: protocols that sent at least 50 bytes per task, most first. */
export function byProtocol(bytes: Record<string, number>): string {
  const shown = Object.entries(bytes)
    .filter(([, v]) => v >= 50)
    .sort((a, b) => b[1] - a[1])
  if (shown.length === 0) return 'under 50 bytes on every protocol'
  return shown.map(([p, v]) => `${p} ${(v / 1024).toFixed(1)} KiB`).join(', ')
}

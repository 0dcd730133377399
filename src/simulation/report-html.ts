import { mkdir, rename, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { loopsLine } from './loop-meter.ts'
import { dhtLine, slotTimeLine } from './report-text.ts'
import type { SimulationReport } from './run-simulation.ts'
import { esc, linePlot, type Series, timelinePlot } from './svg-plots.ts'
import { threadCpuLine } from './thread-cpu.ts'
import type { SimulationTrace } from './trace.ts'

/** Width of the buckets measured throughput is counted in, ms. */
const THROUGHPUT_BUCKET_MS = 250

/** The file `writeHtmlReport` writes in its directory. */
export const REPORT_FILE = 'report.html'

const seconds = (ms: number) => ms / 1000

/** The four plots of a simulation, as SVG strings: timeline, queue depth, steals, throughput. */
export function reportPlots(report: SimulationReport, trace: SimulationTrace): string[] {
  const end = Math.max(1, ...trace.runs.map((r) => r.endMs), ...trace.samples.map((s) => s.t))
  const xMax = seconds(end)
  const rows = trace.nodes.map(() => [] as Array<[number, number]>)
  for (const r of trace.runs) rows[r.node].push([seconds(Math.max(0, r.startMs)), seconds(r.endMs)])
  const gantt = timelinePlot(
    {
      id: 'timeline',
      title: 'Task runs per node (one row per node)',
      xLabel: 'time (s)',
      yLabel: 'node',
      xMax,
    },
    rows,
  )
  const queues: Series[] = trace.nodes.map((peer, i) => ({
    name: `node ${i} (${peer.slice(-6)})`,
    node: i,
    points: trace.samples.map((s) => [seconds(s.t), s.queued[i] ?? 0]),
  }))
  const queue = linePlot(
    {
      id: 'queue-depth',
      title: 'Queue depth per node',
      xLabel: 'time (s)',
      yLabel: 'queued tasks',
      xMax,
      yMax: Math.max(1, ...trace.samples.flatMap((s) => s.queued)),
    },
    queues,
  )
  const stealPoints: Array<[number, number]> = trace.samples.map((s, i) => {
    const prev = trace.samples[i - 1]
    const rate = prev === undefined ? 0 : (s.stolen - prev.stolen) / Math.max(1e-3, seconds(s.t - prev.t))
    return [seconds(s.t), rate]
  })
  const steals = linePlot(
    {
      id: 'steals',
      title: 'Tasks stolen per second (all nodes)',
      xLabel: 'time (s)',
      yLabel: 'tasks stolen / s',
      xMax,
      yMax: Math.max(1, ...stealPoints.map(([, v]) => v)),
    },
    [{ name: 'stolen / s', points: stealPoints, color: '#c0392b' }],
  )
  const buckets = new Array<number>(Math.ceil(end / THROUGHPUT_BUCKET_MS) + 1).fill(0)
  for (const r of trace.runs) buckets[Math.max(0, Math.floor(r.endMs / THROUGHPUT_BUCKET_MS))]++
  const measured: Array<[number, number]> = buckets.map((n, i) => [
    Math.min(xMax, seconds((i + 0.5) * THROUGHPUT_BUCKET_MS)),
    n / seconds(THROUGHPUT_BUCKET_MS),
  ])
  const predicted = report.predictedTasksPerSec
  const throughput = linePlot(
    {
      id: 'throughput',
      title: 'Throughput: predicted (S = 1 / Σ rᵢ/sᵢ) against measured',
      xLabel: 'time (s)',
      yLabel: 'tasks / s',
      xMax,
      yMax: Math.max(predicted, ...measured.map(([, v]) => v)) * 1.1,
    },
    [
      {
        name: `predicted ${predicted.toFixed(0)} tasks/s`,
        points: [
          [0, predicted],
          [xMax, predicted],
        ],
        color: '#555',
        dashed: true,
      },
      {
        name: `measured (mean ${report.measuredTasksPerSec.toFixed(0)} tasks/s)`,
        points: measured,
        color: '#2471a3',
      },
    ],
  )
  return [gantt, queue, steals, throughput]
}

/** The report as one self-contained HTML page: the figures as a table, then the plots inline. */
export function renderHtmlReport(report: SimulationReport, trace: SimulationTrace): string {
  const rows: Array<[string, string]> = [
    ['scenario', report.name],
    ['nodes / slots', `${report.nodes} / ${report.totalSlots}`],
    [
      'tasks',
      `${report.tasks} (succeeded ${report.succeeded}, failed ${report.failed}, missing ${report.missing})`,
    ],
    ['results in DHT', dhtLine(report)],
    [
      'makespan / ideal',
      `${report.makespanRatio.toFixed(3)} (${report.makespanMs.toFixed(0)} ms / ${report.idealMakespanMs.toFixed(0)} ms)`,
    ],
    [
      'throughput',
      `predicted ${report.predictedTasksPerSec.toFixed(0)} tasks/s, measured ${report.measuredTasksPerSec.toFixed(0)} tasks/s`,
    ],
    ['steals', `${report.steals} grants, ${report.offers} offers, ${report.tasksStolen} tasks`],
    [
      'run cost',
      `${(report.run.cpuMs / 1000).toFixed(1)} CPU-s, ${report.run.cpuMsPerTask.toFixed(2)} ms per task`,
    ],
    ['cpu by thread', threadCpuLine(report.run.threads)],
    ['node event loops', loopsLine(report.loops)],
    ['slot time', slotTimeLine(report.slotTime)],
    ['mesh formed', `${report.meshFormationMs.toFixed(0)} ms`],
    [
      'peak RSS per node',
      `${report.workPeakRssMiBPerNode.toFixed(1)} MiB until the results were in, ${report.peakRssMiBPerNode.toFixed(1)} MiB with the DHT check`,
    ],
    ['idle CPU per node', `${report.idleCpuPercentPerNode.toFixed(2)} % of a core`],
    [
      'per task',
      `${report.perTask.messages.toFixed(1)} messages, ${(report.perTask.bytes / 1024).toFixed(1)} KiB, ${report.perTask.verifications.toFixed(2)} verifications`,
    ],
  ]
  const table = rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>taskmesh simulation: ${esc(report.name)}</title>
<style>body{font-family:sans-serif;margin:24px;max-width:960px}th{text-align:left;padding-right:16px}svg{display:block;margin:24px 0}</style>
</head><body>
<h1>taskmesh simulation: ${esc(report.name)}</h1>
<p>Generated ${esc(new Date().toISOString())} by <code>taskmesh simulate --report</code>.</p>
<table>${table}</table>
${reportPlots(report, trace).join('\n')}
</body></html>
`
}

/**
 * Makes `dir` and its missing parents, one level at a time (Node's recursive `mkdir` spins forever
 * where a file system refuses a new directory, as /proc does).
 * @throws Error saying why, when `dir` is a file or cannot be made
 */
export async function makeReportDir(dir: string): Promise<void> {
  try {
    await mkdir(dir)
  } catch (err) {
    const { code } = err as NodeJS.ErrnoException
    if (code === 'EEXIST') {
      if ((await stat(dir)).isDirectory()) return
      throw new Error(`${dir} is a file, not a directory`)
    }
    if (code !== 'ENOENT' || dirname(dir) === dir)
      throw new Error(`cannot make ${dir}: ${(err as Error).message}`)
    await makeReportDir(dirname(dir))
    await mkdir(dir).catch((again: Error) => {
      throw new Error(`cannot make ${dir}: ${again.message}`)
    })
  }
}

/** Where {@link writeHtmlReport} wrote, and where the report it replaced was kept. */
export interface WrittenReport {
  /** `<dir>/report.html`. */
  path: string
  /** `<dir>/report-<its time>.html`: the report that was at `path` before, kept. */
  kept?: string
}

/**
 * Writes `report.html` into `dir` (made if missing). A report already there is not lost: it is
 * renamed after the time it was written (`report-2026-12-07T14-31-05.html`) first.
 */
export async function writeHtmlReport(
  dir: string,
  report: SimulationReport,
  trace: SimulationTrace,
): Promise<WrittenReport> {
  await makeReportDir(dir)
  const path = join(dir, REPORT_FILE)
  const before = await stat(path).catch(() => undefined)
  let kept: string | undefined
  if (before?.isFile() === true) {
    const at = before.mtime.toISOString().slice(0, 19).replaceAll(':', '-')
    kept = join(dir, `report-${at}.html`)
    for (let n = 2; (await stat(kept).catch(() => undefined)) !== undefined; n++) {
      kept = join(dir, `report-${at}-${n}.html`)
    }
    await rename(path, kept)
  }
  await writeFile(path, renderHtmlReport(report, trace))
  return kept === undefined ? { path } : { path, kept }
}

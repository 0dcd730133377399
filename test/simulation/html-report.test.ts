import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeHtmlReport } from '../../src/simulation/report-html.ts'
import { runSimulation } from '../../src/simulation/run-simulation.ts'

/** The `<svg>` elements of a page, by their `data-plot` name. */
function plots(html: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const m of html.matchAll(/<svg\b[^>]*data-plot="([^"]+)"[^>]*>[\s\S]*?<\/svg>/g)) out.set(m[1], m[0])
  return out
}

const count = (text: string, re: RegExp) => [...text.matchAll(re)].length

describe('simulate --report: the HTML report', () => {
  it('holds the four plots, one timeline row and one queue line per node, every run on the timeline', async () => {
    const { trace, ...report } = await runSimulation(
      {
        name: 'report',
        nodes: 4,
        slots: 2,
        // 600 ms of work on 8 slots: the run spans several of the trace's 200 ms samples
        tasks: 80,
        duration: { kind: 'fixed', ms: 60 },
        transport: 'memory',
        verifyDht: false,
        idleMs: 0,
      },
      { trace: true },
    )
    expect(report.missing).toBe(0)
    expect(trace).toBeDefined()
    if (trace === undefined) return
    const dir = await mkdtemp(join(tmpdir(), 'taskmesh-report-'))
    try {
      const { path, kept } = await writeHtmlReport(dir, report, trace)
      expect(kept).toBeUndefined()
      const html = await readFile(path, 'utf8')
      expect(html.startsWith('<!doctype html>')).toBe(true)
      expect(html).not.toMatch(/<script|<link|src="http/) // self-contained: nothing to fetch
      const svg = plots(html)
      expect([...svg.keys()]).toEqual(['timeline', 'queue-depth', 'steals', 'throughput'])
      const timeline = svg.get('timeline') ?? ''
      expect(timeline).toContain('data-rows="4"')
      expect(count(timeline, /<g data-node="\d+"/g)).toBe(4)
      expect(count(timeline, /<rect /g)).toBe(80) // one bar per task run
      expect(count(svg.get('queue-depth') ?? '', /<polyline data-node="\d+"/g)).toBe(4)
      expect(count(svg.get('steals') ?? '', /<polyline /g)).toBe(1)
      const throughput = svg.get('throughput') ?? ''
      expect(count(throughput, /<polyline /g)).toBe(2) // predicted and measured
      expect(throughput).toContain(`predicted ${report.predictedTasksPerSec.toFixed(0)} tasks/s`)
      // queue depth was sampled while the work ran: node 0 held the queue at the start
      expect(trace.samples.length).toBeGreaterThan(1)
      expect(Math.max(...trace.samples.map((s) => s.queued[0]))).toBeGreaterThan(0)
      // a second report into the same directory keeps the first, renamed after its time
      await writeFile(path, 'the first report')
      const again = await writeHtmlReport(dir, report, trace)
      expect(again.path).toBe(path)
      expect(again.kept).toMatch(/report-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.html$/)
      expect(await readFile(again.kept as string, 'utf8')).toBe('the first report')
      expect((await readFile(path, 'utf8')).startsWith('<!doctype html>')).toBe(true)
      const third = await writeHtmlReport(dir, report, trace)
      expect(third.kept).not.toBe(again.kept) // never over the one kept before (in the same second, a number is added)
      expect((await readdir(dir)).length).toBe(3)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 15_000)
})

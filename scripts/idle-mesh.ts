/**
 * An idle mesh of daemon processes, watched for a minute: disconnects (`peer X left` lines), idle
 * CPU and memory per daemon. Target: 0 disconnects in 60 s.
 *
 *   npm run bench:idle -- [--daemons 8] [--seconds 60]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type Daemon, hears, startDaemon } from './chaos/daemons.ts'
import { cpuSeconds } from './compare/processes.ts'

const { values } = parseArgs({
  options: { daemons: { type: 'string', default: '8' }, seconds: { type: 'string', default: '60' } },
})
const count = Number(values.daemons)
const seconds = Number(values.seconds)
if (!Number.isInteger(count) || count < 2)
  throw new Error(`--daemons must be a whole number >= 2, got ${values.daemons}`)
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${values.seconds}`)

/** Resident set size of a process, MiB (from /proc). */
async function rssMiB(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
  return kb / 1024
}

const root = await mkdtemp(join(tmpdir(), 'taskmesh-idle-'))
const daemons: Daemon[] = []
try {
  const formedFrom = Date.now()
  // the default beacon interval (1 s), each daemon joining through the first and the one before it
  for (let i = 0; i < count; i++) {
    const bootstrap = i === 0 ? [] : [...new Set([daemons[0].addr, daemons[i - 1].addr])]
    daemons.push(await startDaemon(root, `d${i}`, { slots: 2, beaconMs: 1000, bootstrap }))
  }
  await Promise.all(
    daemons.map((d) =>
      hears(
        d,
        daemons.filter((o) => o !== d).map((o) => o.peerId),
        60_000,
      ),
    ),
  )
  const formedMs = Date.now() - formedFrom
  const leftBefore = daemons.map((d) => d.process.lines.filter((l) => / left$/.test(l)).length)
  const cpuBefore = daemons.map((d) => cpuSeconds(d.process.pid ?? 0))
  process.stderr.write(`mesh of ${count} formed in ${formedMs} ms; watching it idle for ${seconds} s\n`)
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const left = daemons.map((d, i) => d.process.lines.filter((l) => / left$/.test(l)).length - leftBefore[i])
  const cpu = daemons.map((d, i) => ((cpuSeconds(d.process.pid ?? 0) - cpuBefore[i]) / seconds) * 100)
  const rss = await Promise.all(daemons.map((d) => rssMiB(d.process.pid ?? 0)))
  const disconnects = left.reduce((a, b) => a + b, 0)
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  console.log(`| figure | measured | target |`)
  console.log(`| --- | --- | --- |`)
  console.log(`| disconnects in ${seconds} s, ${count} idle daemons | ${disconnects} | 0 |`)
  console.log(
    `| idle CPU per daemon, % of a core (mean / max) | ${mean(cpu).toFixed(2)} / ${Math.max(...cpu).toFixed(2)} | — |`,
  )
  console.log(
    `| RSS per daemon, MiB (mean / max) | ${mean(rss).toFixed(1)} / ${Math.max(...rss).toFixed(1)} | — |`,
  )
  console.log(`| mesh formed (every daemon hears every other) | ${formedMs} ms | — |`)
  process.exitCode = disconnects === 0 ? 0 : 1
} finally {
  await Promise.all(daemons.map((d) => d.process.kill()))
  await rm(root, { recursive: true, force: true })
}

/**
 * Summarises V8 CPU profiles (`node --cpu-prof` writes `.cpuprofile` files): self time summed over
 * every profile given, grouped by package (a dependency under node_modules, a folder of this
 * project's src/, a Node built-in, or V8's own entries such as the garbage collector), then the
 * functions with the most self time.
 *
 *   npx tsx scripts/cpu-profile-summary.ts <dir or .cpuprofile files…> [--top 25] [--json]
 *
 * Percentages are of the busy time: all samples but `(idle)`. A `window.json` (`{ fromMs, toMs }`)
 * beside a profile limits it to that span from its start (the comparison's measured run).
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  /** Microseconds from the previous sample (the first: from `startTime`). */
  timeDeltas?: number[]
}

/**
 * The part of a profile to count, in ms from its start: a `window.json` of `{ fromMs, toMs }` beside
 * the profile (the comparison writes one per daemon: its measured run, not its start-up).
 */
interface Window {
  fromMs: number
  toMs: number
}

/** One row of the summary: a package or a function, its self time and share of the busy time. */
export interface SelfTime {
  name: string
  ms: number
  percent: number
}

/** What the summary found. */
export interface ProfileSummary {
  files: number
  busyMs: number
  idleMs: number
  byPackage: SelfTime[]
  byFunction: SelfTime[]
  text: string
}

/** The package a script URL belongs to. */
export function packageOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)'
  const modules = url.lastIndexOf('/node_modules/')
  if (modules >= 0) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/')
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]
  }
  if (url.startsWith('node:'))
    return `node:${
      url
        .slice(5)
        .replace(/^internal\//, '')
        .split('/')[0]
    }`
  const src = url.lastIndexOf('/src/')
  if (src >= 0) {
    const parts = url.slice(src + 1).split('/')
    return `taskmesh ${parts.slice(0, Math.min(3, parts.length - 1)).join('/')}`
  }
  return basename(url)
}

async function profileFiles(paths: string[]): Promise<string[]> {
  const files: string[] = []
  for (const p of paths) {
    if (!(await stat(p)).isDirectory()) files.push(p)
    else files.push(...(await profileFiles((await readdir(p)).map((f) => join(p, f)).filter(isProfileOrDir))))
  }
  return files.sort()
}

const isProfileOrDir = (path: string) => path.endsWith('.cpuprofile') || !basename(path).includes('.')

async function windowOf(file: string): Promise<Window | undefined> {
  try {
    return JSON.parse(await readFile(join(dirname(file), 'window.json'), 'utf8')) as Window
  } catch {
    return undefined
  }
}

/** Self ms per profile node, from the samples (each weighs the time to the next) inside `window`. */
function selfTimes(profile: CpuProfile, window: Window | undefined): Map<number, number> {
  const out = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  let t = 0
  for (let i = 0; i < samples.length; i++) {
    t += (deltas[i] ?? 0) / 1000
    const ms = (deltas[i + 1] ?? 0) / 1000
    if (window !== undefined && (t < window.fromMs || t > window.toMs)) continue
    out.set(samples[i], (out.get(samples[i]) ?? 0) + ms)
  }
  return out
}

function top(map: Map<string, number>, busyMs: number, n: number): SelfTime[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, ms]) => ({ name, ms, percent: (100 * ms) / busyMs }))
}

/** Reads every profile under `paths` (directories or files) and sums self time. */
export async function summarizeProfiles(paths: string | string[], n = 25): Promise<ProfileSummary> {
  const files = await profileFiles(Array.isArray(paths) ? paths : [paths])
  const byPackage = new Map<string, number>()
  const byFunction = new Map<string, number>()
  let idleMs = 0
  let busyMs = 0
  const perFile: string[] = []
  for (const file of files) {
    const busyBefore = busyMs
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
    const self = selfTimes(profile, await windowOf(file))
    for (const node of profile.nodes) {
      const ms = self.get(node.id) ?? 0
      if (ms === 0) continue
      const { functionName, url, lineNumber } = node.callFrame
      if (functionName === '(idle)') {
        idleMs += ms
        continue
      }
      busyMs += ms
      const pkg = packageOf(url, functionName)
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms)
      const where = url === '' ? '' : ` ${basename(url)}:${lineNumber + 1}`
      const fn = `${pkg}: ${functionName || '(anonymous)'}${where}`
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms)
    }
    perFile.push(`  ${((busyMs - busyBefore) / 1000).toFixed(2).padStart(7)} s busy  ${file}`)
  }
  const summary = {
    files: files.length,
    busyMs,
    idleMs,
    byPackage: top(byPackage, busyMs, n),
    byFunction: top(byFunction, busyMs, n),
  }
  const rows = (list: SelfTime[]) =>
    list.map((r) => `  ${r.percent.toFixed(1).padStart(5)} %  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`)
  const text = [
    `${files.length} profile(s): ${(busyMs / 1000).toFixed(1)} s busy, ${(idleMs / 1000).toFixed(1)} s idle`,
    ...perFile,
    `top ${n} by self time, grouped by package:`,
    ...rows(summary.byPackage),
    `top ${n} functions by self time:`,
    ...rows(summary.byFunction),
  ].join('\n')
  return { ...summary, text }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, json: { type: 'boolean', default: false } },
  })
  const n = Number(values.top)
  if (positionals.length === 0 || !Number.isInteger(n) || n < 1) {
    throw new Error(
      'usage: npx tsx scripts/cpu-profile-summary.ts <dir or .cpuprofile files…> [--top 25] [--json]',
    )
  }
  const summary = await summarizeProfiles(positionals, n)
  if (summary.files === 0) throw new Error(`no .cpuprofile files in ${positionals.join(', ')}`)
  process.stdout.write(values.json ? `${JSON.stringify(summary, null, 2)}\n` : `${summary.text}\n`)
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  main().catch((err: Error) => {
    process.stderr.write(`${err.message}\n`)
    process.exit(1)
  })
}

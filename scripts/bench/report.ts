import { execFileSync } from 'node:child_process'
import type { Figure } from './common.ts'

/** A scenario that threw (or ran out of time) instead of producing figures. */
export interface ScenarioError {
  scenario: string
  error: string
}

/** The whole run, as printed with `--json`. */
export interface BenchReport {
  quick: boolean
  startedAt: string
  durationMs: number
  node: string
  cpus: number
  /** The commit measured, and whether the working tree differed from it. */
  git: { commit: string | null; dirty: boolean | null }
  /** 1-minute load average at the start and the end: other processes on the machine skew every figure. */
  loadavg: { start: number; end: number }
  scenarios: Array<{ scenario: string; durationMs: number; ok: boolean }>
  figures: Figure[]
  errors: ScenarioError[]
  summary: { figures: number; pass: number; miss: number; errors: number }
}

/** The commit checked out here and whether the tree has uncommitted changes (null when git is unavailable). */
export function gitState(): BenchReport['git'] {
  const git = (...args: string[]) =>
    execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  try {
    return {
      commit: git('rev-parse', '--short', 'HEAD').trim(),
      dirty: git('status', '--porcelain').trim() !== '',
    }
  } catch {
    return { commit: null, dirty: null }
  }
}

/** A number in a width that suits its size. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v)
  if (Number.isInteger(v)) return v.toLocaleString('en-US')
  const a = Math.abs(v)
  if (a >= 1000) return Math.round(v).toLocaleString('en-US')
  if (a >= 100) return v.toFixed(0)
  if (a >= 10) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  return v.toFixed(3)
}

function valueText(f: Figure): string {
  return f.unit === 'ratio' ? formatNumber(f.value) : `${formatNumber(f.value)} ${f.unit}`
}

function targetText(f: Figure): string {
  if (f.target === null) return ''
  const op = f.target.op === '==' ? '=' : f.target.op === '<=' ? '≤' : '≥'
  return `${op} ${formatNumber(f.target.value)}`
}

function resultText(f: Figure): string {
  if (f.pass === null) return f.target === null ? '' : 'n/a'
  return f.pass ? 'pass' : 'MISS'
}

function baselineText(f: Figure): string {
  if (f.baseline === undefined) return ''
  return `${formatNumber(f.baseline.ratio)}× ${f.baseline.figure} (${formatNumber(f.baseline.value)})`
}

/** Renders the figures as an aligned text table, then errors and a summary line. */
export function formatTable(report: BenchReport): string {
  const header = ['scenario', 'figure', 'value', 'target', 'result', 'vs baseline', 'note']
  const rows = report.figures.map((f) => [
    f.scenario,
    f.figure,
    valueText(f),
    targetText(f),
    resultText(f),
    baselineText(f),
    f.note ?? '',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]].length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  const out = [line(header), line(widths.map((w) => '─'.repeat(w)))]
  let last = ''
  for (const r of rows) {
    if (r[0] !== last && last !== '') out.push('')
    last = r[0]
    out.push(line(r))
  }
  for (const e of report.errors) out.push('', `ERROR ${e.scenario}: ${e.error}`)
  const s = report.summary
  out.push(
    '',
    `${s.figures} figures: ${s.pass} pass, ${s.miss} miss; ${s.errors} scenario error(s); ` +
      `${(report.durationMs / 1000).toFixed(1)} s${report.quick ? ' (--quick)' : ''}; ` +
      `load ${report.loadavg.start.toFixed(1)}→${report.loadavg.end.toFixed(1)} on ${report.cpus} cpus; node ${report.node}, commit ${report.git.commit ?? '?'}${report.git.dirty ? ' + uncommitted changes' : ''}`,
  )
  return out.join('\n')
}

import { formatNumber } from '../bench/report.ts'

/** One condition of a target: on the taskmesh value itself, or on its ratio to BullMQ's. */
export interface Condition {
  on: 'value' | 'ratio'
  op: '<=' | '>='
  value: number
}

/** One figure measured on both systems (or on taskmesh alone, `bullmq` null). */
export interface Pair {
  workload: string
  figure: string
  unit: string
  taskmesh: number
  bullmq: number | null
  /** taskmesh / bullmq. */
  ratio: number | null
  target: string
  /** Whether every condition of the target holds; null without a target or a value to judge. */
  pass: boolean | null
  note?: string
}

function holds(x: number | null, c: Condition): boolean | null {
  if (x === null || Number.isNaN(x)) return null
  return c.op === '<=' ? x <= c.value : x >= c.value
}

function conditionText(c: Condition): string {
  const op = c.op === '<=' ? '≤' : '≥'
  return c.on === 'ratio' ? `${op} ${formatNumber(c.value)}× BullMQ` : `${op} ${formatNumber(c.value)}`
}

/** Builds a pair and judges it against `target` (all conditions must hold). */
export function pair(
  workload: string,
  figure: string,
  unit: string,
  taskmesh: number,
  bullmq: number | null,
  target: Condition[] = [],
  note?: string,
): Pair {
  const ratio = bullmq === null || bullmq === 0 ? null : taskmesh / bullmq
  const verdicts = target.map((c) => holds(c.on === 'ratio' ? ratio : taskmesh, c))
  const pass = target.length === 0 || verdicts.includes(null) ? null : verdicts.every((v) => v === true)
  return {
    workload,
    figure,
    unit,
    taskmesh,
    bullmq,
    ratio,
    target: target.map(conditionText).join(' and '),
    pass,
    ...(note === undefined ? {} : { note }),
  }
}

/** Text columns laid out under a header, the first column left-aligned and numbers right-aligned. */
export function table(header: string[], rows: string[][], numeric: (column: number) => boolean): string {
  const widths = header.map((h, i) => Math.max([...h].length, ...rows.map((r) => [...(r[i] ?? '')].length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(header), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)].join('\n')
}

/** The pairs as a table (workload, figure, taskmesh, BullMQ, ratio, target, result), then their notes. */
export function formatPairs(pairs: Pair[]): string {
  const num = (v: number | null, unit: string) => (v === null ? '—' : `${formatNumber(v)} ${unit}`.trim())
  const rows = pairs.map((p) => [
    p.workload,
    p.figure,
    num(p.taskmesh, p.unit),
    num(p.bullmq, p.unit),
    p.ratio === null ? '' : `${formatNumber(p.ratio)}×`,
    p.target,
    p.pass === null ? '' : p.pass ? 'pass' : 'MISS',
  ])
  const notes = pairs
    .filter((p) => p.note !== undefined)
    .map((p) => `- ${p.workload}, ${p.figure}: ${p.note}`)
  return [
    table(
      ['workload', 'figure', 'taskmesh', 'BullMQ', 'ratio', 'target', 'result'],
      rows,
      (i) => i >= 2 && i <= 4,
    ),
    ...(notes.length === 0 ? [] : ['', ...notes]),
  ].join('\n')
}

import type { AccountingSnapshot } from '../../src/node/accounting/accounting.ts'
import { formatNumber } from '../bench/report.ts'
import { table } from './report.ts'

type Tree = { [key: string]: number | Tree }

/** Adds (or subtracts) two snapshots key by key; a key missing on one side counts as 0. */
function combine(a: Tree, b: Tree, sign: 1 | -1): Tree {
  const out: Tree = {}
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[key] ?? 0
    const y = b[key] ?? 0
    out[key] =
      typeof x === 'number' && typeof y === 'number'
        ? x + sign * y
        : combine(typeof x === 'number' ? {} : x, typeof y === 'number' ? {} : y, sign)
  }
  return out
}

/** What every node spent between `before` and `after` (one snapshot per node, same order), summed. */
export function meshSpent(before: AccountingSnapshot[], after: AccountingSnapshot[]): AccountingSnapshot {
  const spent = after.map((a, i) => combine(a as unknown as Tree, before[i] as unknown as Tree, -1))
  return spent.reduce((sum, s) => combine(sum, s, 1), {} as Tree) as unknown as AccountingSnapshot
}

/** Every counter of a snapshot divided by `tasks`, by dotted path, zeros left out. */
export function perTask(spent: AccountingSnapshot, tasks: number): Record<string, number> {
  const out: Record<string, number> = {}
  const walk = (t: Tree, path: string) => {
    for (const [k, v] of Object.entries(t)) {
      const p = path === '' ? k : `${path}.${k}`
      if (typeof v === 'number') {
        if (v !== 0) out[p] = v / tasks
      } else walk(v, p)
    }
  }
  walk(spent as unknown as Tree, '')
  return out
}

/** The per-task figures of several runs side by side, one row per counter any of them moved. */
export function formatPerTask(runs: Record<string, Record<string, number>>): string {
  const names = Object.keys(runs)
  const keys = [...new Set(names.flatMap((n) => Object.keys(runs[n])))].sort()
  const rows = keys.map((k) => [
    k,
    ...names.map((n) => (runs[n][k] === undefined ? '' : formatNumber(runs[n][k]))),
  ])
  return table(['per task (all nodes)', ...names], rows, (i) => i > 0)
}

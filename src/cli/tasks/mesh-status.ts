import type { MeshNode, MeshView } from '../../node/watch/mesh-view.ts'
import { openHttpTarget } from './http-target.ts'
import type { TargetOptions } from './target.ts'

/** Flags of `taskmesh status --mesh`. */
export interface MeshStatusFlags extends TargetOptions {
  json: boolean
}

const COLUMNS: Array<[title: string, cell: (n: MeshNode) => string, right: boolean]> = [
  ['NODE', (n) => n.peerId, false],
  ['HEARD', (n) => n.heard, false],
  ['SLOTS', (n) => String(n.slots), true],
  ['RUNNING', (n) => String(n.running), true],
  ['QUEUED', (n) => String(n.queued), true],
  ['WAIT', (n) => `${n.expectedWaitMs} ms`, true],
  ['LOAD', (n) => `${Math.round(n.load * 100)}%`, true],
  ['AGE', (n) => `${n.ageMs} ms`, true],
  ['TYPES', (n) => n.types.join(','), false],
]

/** The mesh view as a table: a header line, then one line per node. */
export function meshTable(view: MeshView): string {
  const rows = [COLUMNS.map(([title]) => title), ...view.nodes.map((n) => COLUMNS.map(([, cell]) => cell(n)))]
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  return rows
    .map((r) =>
      r
        .map((cell, i) => (COLUMNS[i][2] ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/**
 * `taskmesh status --mesh`: every node the daemon hears of — itself, its neighbours, and the
 * loaded peers their beacons name — with capacity and load, as a table (or JSON with `--json`).
 */
export async function runMeshStatus(flags: MeshStatusFlags): Promise<void> {
  const target = await openHttpTarget(flags, 'taskmesh status --mesh')
  try {
    const view = (await target.mesh()) as unknown as MeshView
    if (flags.json) return console.log(JSON.stringify(view, null, 2))
    console.log(meshTable(view))
    const neighbours = view.nodes.filter((n) => n.heard === 'neighbour').length
    console.log(
      `${view.nodes.length} nodes: this one, ${neighbours} neighbours, ${view.nodes.length - 1 - neighbours} named in hot lists`,
    )
  } finally {
    await target.close()
  }
}

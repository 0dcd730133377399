import { setMaxListeners } from 'node:events'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { type LocalMeshOptions, startLocalMesh, stopMesh } from '../../src/simulation/mesh.ts'
import { quantile } from '../../src/simulation/random.ts'

/** How a figure is judged against its target. */
export type Comparator = '<=' | '>=' | '=='

/** A target a figure should meet. */
export interface Target {
  op: Comparator
  value: number
}

/** One measured figure of one scenario: a row of the table, an object of the JSON output. */
export interface Figure {
  scenario: string
  figure: string
  value: number
  unit: string
  /** What the figure should meet; null for figures reported for information. */
  target: Target | null
  /** Whether the value meets the target; null when there is no target (or the value is NaN). */
  pass: boolean | null
  /** A baseline measured in the same run, and value / baseline. */
  baseline?: { figure: string; value: number; ratio: number }
  note?: string
}

/** Extra fields of a figure. */
export interface FigureExtras {
  target?: Target
  baseline?: { figure: string; value: number }
  note?: string
}

/** What a scenario gets from the runner. */
export interface BenchContext {
  quick: boolean
  /** Aborts when the scenario runs out of time. */
  signal: AbortSignal
  /** Progress line on stderr. */
  log(message: string): void
  /** Starts a local mesh the runner stops after the scenario, whatever happens. */
  mesh(opts: LocalMeshOptions): Promise<TaskmeshNode[]>
  /** Stops nodes now (the runner will not stop them again). */
  stop(nodes: TaskmeshNode[]): Promise<void>
}

/** One benchmark scenario. */
export interface Scenario {
  name: string
  /** Longest the scenario may run (ms) before it counts as an error. */
  timeoutMs: number
  run(ctx: BenchContext): Promise<Figure[]>
}

/** Judges `value` against `target`. */
export function meets(value: number, target: Target): boolean | null {
  if (Number.isNaN(value)) return null
  switch (target.op) {
    case '<=':
      return value <= target.value
    case '>=':
      return value >= target.value
    case '==':
      return value === target.value
  }
}

/** Builds a figure. */
export function figure(
  scenario: string,
  name: string,
  value: number,
  unit: string,
  extras: FigureExtras = {},
): Figure {
  const f: Figure = {
    scenario,
    figure: name,
    value,
    unit,
    target: extras.target ?? null,
    pass: extras.target === undefined ? null : meets(value, extras.target),
  }
  if (extras.baseline !== undefined) {
    f.baseline = { ...extras.baseline, ratio: value / extras.baseline.value }
  }
  if (extras.note !== undefined) f.note = extras.note
  return f
}

/** `figure` bound to one scenario name. */
export function figuresOf(scenario: string) {
  return (name: string, value: number, unit: string, extras?: FigureExtras) =>
    figure(scenario, name, value, unit, extras)
}

export const atMost = (value: number): Target => ({ op: '<=', value })
export const atLeast = (value: number): Target => ({ op: '>=', value })
export const exactly = (value: number): Target => ({ op: '==', value })

/** p50 and p99 (nearest rank) of a sample. */
export function percentiles(values: number[]): { p50: number; p99: number } {
  return { p50: quantile(values, 0.5), p99: quantile(values, 0.99) }
}

/**
 * A signal that aborts after `ms` or with `parent`, meant to be shared by many waits (no
 * max-listeners warning). Built on a timer rather than `AbortSignal.any([parent,
 * AbortSignal.timeout(ms)])`: Node 20 holds the sources of `any` weakly, so an unreferenced
 * timeout signal can be collected and the composite then never aborts.
 */
export function deadline(ms: number, parent?: AbortSignal): AbortSignal {
  const controller = new AbortController()
  setMaxListeners(Number.POSITIVE_INFINITY, controller.signal)
  const timer = setTimeout(
    () => controller.abort(new DOMException(`deadline of ${ms} ms passed`, 'TimeoutError')),
    ms,
  )
  const onParent = () => {
    clearTimeout(timer)
    controller.abort(parent?.reason)
  }
  if (parent?.aborted) onParent()
  else parent?.addEventListener('abort', onParent, { once: true })
  controller.signal.addEventListener('abort', () => parent?.removeEventListener('abort', onParent), {
    once: true,
  })
  return controller.signal
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Counts how many of `ids` a DHT get at `node` (skipping its cache) finds. */
export async function countInDht(node: TaskmeshNode, ids: string[], concurrency = 32): Promise<number> {
  let found = 0
  for (let i = 0; i < ids.length; i += concurrency) {
    const batch = await Promise.all(
      ids
        .slice(i, i + concurrency)
        .map((id) => node.getResult(id, { skipCache: true }).catch(() => undefined)),
    )
    found += batch.filter((r) => r !== undefined).length
  }
  return found
}

/** The results of `ids` that reached `node` before `signal` aborted, and how many did not. */
export async function collectResults(
  node: TaskmeshNode,
  ids: string[],
  signal: AbortSignal,
): Promise<{ records: ResultRecord[]; missing: string[] }> {
  const settled = await Promise.allSettled(ids.map((id) => node.waitResult(id, signal)))
  const records: ResultRecord[] = []
  const missing: string[] = []
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') records.push(s.value)
    else missing.push(ids[i])
  })
  return { records, missing }
}

/** Waits for every id's result at `node`; rejects naming how many are missing when `signal` aborts. */
export async function waitResults(
  node: TaskmeshNode,
  ids: string[],
  signal: AbortSignal,
): Promise<ResultRecord[]> {
  const { records, missing } = await collectResults(node, ids, signal)
  if (missing.length > 0) {
    throw new Error(
      `${missing.length} of ${ids.length} results never reached their submitter ${short(node.peerId)} ` +
        `(first: ${missing[0]})`,
    )
  }
  return records
}

/** The last characters of a peer id, for messages. */
export function short(peerId: string): string {
  return `…${peerId.slice(-6)}`
}

/** A mesh tracker: what `BenchContext.mesh` and `stop` are built on. */
export class MeshTracker {
  private readonly live = new Set<TaskmeshNode>()

  async start(opts: LocalMeshOptions): Promise<TaskmeshNode[]> {
    const nodes = await startLocalMesh(opts)
    for (const n of nodes) this.live.add(n)
    return nodes
  }

  async stop(nodes: TaskmeshNode[]): Promise<void> {
    for (const n of nodes) this.live.delete(n)
    await stopMesh(nodes)
  }

  async stopAll(): Promise<void> {
    const nodes = [...this.live]
    this.live.clear()
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)))
  }
}

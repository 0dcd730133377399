import type { RecordView, SubmittedTask } from '../../src/chaos/history.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import type { ChaosCluster } from './cluster.ts'
import { apiFetch, type Daemon, result } from './daemons.ts'
import { pause } from './workload.ts'

/** Runs `work` over `items`, at most `concurrency` at once; resolves with the results in item order. */
export async function mapLimit<T, R>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await work(items[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  return out
}

/** The fields of a record the checker compares, with peer ids turned into node names. */
export function viewOf(record: ResultRecord, names: Map<string, string>): RecordView {
  return {
    taskId: record.taskId,
    status: record.status,
    output: record.output,
    executor: names.get(record.executor) ?? record.executor,
    owner: names.get(record.owner) ?? record.owner,
    epoch: record.epoch,
  }
}

/**
 * Waits until each task's record is known at the node that accepted it: rounds of long polls
 * (`concurrency` per node at once, each up to `POLL_MS`) over the tasks still without one, until
 * none is left or `waitMs` has passed. Each poll makes the node look again (its cache, its store,
 * the DHT), so a lookup that missed once is not the last word. Resolves with the record each
 * accepting node read, by task id, and the tasks left without one.
 */
export async function awaitResults(
  cluster: ChaosCluster,
  tasks: SubmittedTask[],
  waitMs: number,
  concurrency = 16,
): Promise<{ records: Map<string, ResultRecord>; missing: SubmittedTask[] }> {
  const deadline = Date.now() + waitMs
  const records = new Map<string, ResultRecord>()
  let missing = tasks
  while (missing.length > 0 && Date.now() < deadline) {
    const wait = Math.max(1, Math.min(POLL_MS, deadline - Date.now()))
    await Promise.all(
      cluster.nodes.map(async (node) => {
        const mine = missing.filter((t) => t.node === node.name)
        const got = await mapLimit(mine, concurrency, (t) =>
          result(node.daemon, t.taskId, wait).catch(() => undefined),
        )
        mine.forEach((t, i) => {
          const record = got[i]
          if (record !== undefined) records.set(t.taskId, record)
        })
      }),
    )
    missing = missing.filter((t) => !records.has(t.taskId))
  }
  return { records, missing }
}

/**
 * Longest single long poll while waiting for results, ms: longer than one DHT lookup of a waiter
 * may take (`POLL_MAX_MS`), so a node that holds the record answers with it even when the lookup
 * beside it is slow.
 */
const POLL_MS = 8_000

async function readAll(daemon: Daemon, ids: string[], names: Map<string, string>, waitMs: number) {
  const records = await mapLimit(ids, 8, (id) => result(daemon, id, waitMs).catch(() => undefined))
  return new Map(ids.map((id, i) => [id, records[i] === undefined ? undefined : viewOf(records[i], names)]))
}

function agree(views: Array<RecordView | undefined>): boolean {
  const key = (v: RecordView | undefined) => (v === undefined ? '-' : `${v.executor} ${v.epoch} ${v.status}`)
  return views.every((v) => v !== undefined && key(v) === key(views[0]))
}

/**
 * The record every node reads for every task. Reads that disagree between nodes (a task that ran
 * twice converges on the record the selector picks, through result notices) are read again until
 * they agree or `convergeMs` has passed; what is left is what the checker judges.
 */
export async function readRecords(
  cluster: ChaosCluster,
  ids: string[],
  opts: { waitMs: number; convergeMs: number },
): Promise<Record<string, Record<string, RecordView | undefined>>> {
  const names = cluster.names()
  const reads = new Map<string, Map<string, RecordView | undefined>>()
  await Promise.all(
    cluster.nodes.map(async (n) => reads.set(n.name, await readAll(n.daemon, ids, names, opts.waitMs))),
  )
  const deadline = Date.now() + opts.convergeMs
  let open = ids.filter((id) => !agree(cluster.nodes.map((n) => reads.get(n.name)?.get(id))))
  while (open.length > 0 && Date.now() < deadline) {
    await pause(250)
    await Promise.all(
      cluster.nodes.map(async (n) => {
        const again = await readAll(n.daemon, open, names, opts.waitMs)
        for (const [id, v] of again) reads.get(n.name)?.set(id, v)
      }),
    )
    open = open.filter((id) => !agree(cluster.nodes.map((n) => reads.get(n.name)?.get(id))))
  }
  return Object.fromEntries([...reads].map(([node, m]) => [node, Object.fromEntries(m)]))
}

/** Every node's story of a task, one line per event, for a failure message. */
export async function stories(cluster: ChaosCluster, taskId: string): Promise<string> {
  const names = cluster.names()
  const parts = await Promise.all(
    cluster.nodes.map(async (n) => {
      const res = await apiFetch(n.daemon, `/tasks/${taskId}/story`).catch(() => undefined)
      const body = (await res?.json().catch(() => undefined)) as
        | { events: Array<{ at: number; event: string; detail?: unknown }> }
        | undefined
      const events = (body?.events ?? []).map((e) => {
        let detail = JSON.stringify(e.detail ?? '')
        for (const [peer, name] of names) detail = detail.replaceAll(peer, name)
        return `  ${e.at} ${e.event} ${detail}`
      })
      return `${n.name}:\n${events.join('\n')}`
    }),
  )
  return parts.join('\n')
}

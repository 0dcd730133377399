/**
 * What one result read costs the mesh: 5 daemons; `a` accepts N no-ops and the mesh runs them;
 * then `GET /tasks/<id>` (no wait) at `e`, one request at a time, for each of those tasks (its
 * record is held by the 3 peers closest to its key and its executor, `e` among them for some),
 * then for N ids no task has. Prints each phase's latency p50 / p99, the CPU-seconds of all 5
 * daemons per 1,000 reads, and what `e` sent for them: fetch frames and kad-dht streams per read
 * (from its status's accounting).
 *
 *   npx tsx scripts/read-cost.ts [tasks, default 1000]
 */
import '../src/polyfill.ts'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cidOfDigest } from '../src/task/task-id.ts'
import { apiFetch, type Daemon, readsSent, results, startDaemon, submit } from './chaos/daemons.ts'
import { cpuSeconds } from './compare/processes.ts'

/** The idle spell measured before the reads, ms. */
const IDLE_MS = 5_000
const tasks = Number(process.argv[2] ?? 1_000)
if (!Number.isInteger(tasks) || tasks < 1 || tasks > 10_000)
  throw new Error(`tasks must be a whole number from 1 to 10000, got ${process.argv[2]}`)

/** What this script reads of a status's accounting. */
interface StatusAccounting {
  accounting: { datastore: Record<string, { put?: number } | undefined> }
}

/** The p-th percentile of `sorted` (ascending). */
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]

const root = await mkdtemp(join(tmpdir(), 'taskmesh-read-'))
const daemons: Daemon[] = []
try {
  daemons.push(await startDaemon(root, 'a', { slots: 16 }))
  for (const name of ['b', 'c', 'd', 'e']) {
    daemons.push(await startDaemon(root, name, { slots: 4, bootstrap: [daemons[0].addr] }))
  }
  const [a, , , , e] = daemons
  for (const d of daemons) {
    for (;;) {
      const s = (await (await apiFetch(d, '/status')).json()) as { peers?: unknown[] }
      if ((s.peers?.length ?? 0) >= daemons.length - 1) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  const ids: string[] = []
  for (let i = 0; i < tasks; i += 1_000) {
    const specs = Array.from({ length: Math.min(1_000, tasks - i) }, (_, k) => ({
      type: 'noop',
      input: i + k,
    }))
    ids.push(...(await submit(a, specs)))
  }
  await results(a, ids, 60_000)
  // the copies land after the owner hears of each result: wait until no daemon writes records
  const recordPuts = async () => {
    const all = await Promise.all(
      daemons.map(async (d) => (await (await apiFetch(d, '/status')).json()) as StatusAccounting),
    )
    return all.reduce((sum, s) => sum + (s.accounting.datastore.records?.put ?? 0), 0)
  }
  for (let last = -1, now = await recordPuts(); now !== last; last = now, now = await recordPuts()) {
    await new Promise((resolve) => setTimeout(resolve, 1_000))
  }
  const unknown = Array.from({ length: tasks }, (_, i) =>
    cidOfDigest(createHash('sha256').update(`no such task ${i}`).digest()),
  )
  const cpu = () => daemons.reduce((sum, d) => sum + cpuSeconds(d.process.pid as number), 0)
  const idleFrom = cpu()
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS))
  const idle = (cpu() - idleFrom) / (IDLE_MS / 1000)
  console.log(
    `${tasks} reads of each kind at e, one at a time (5 daemons, records at 3 peers + the executor; ` +
      `idle, the 5 daemons use ${idle.toFixed(2)} CPU-s/s):`,
  )
  for (const [what, list, want] of [
    ['held records', ids, 200],
    ['no such task', unknown, 404],
  ] as const) {
    const before = { cpu: cpu(), e: cpuSeconds(e.process.pid as number), sent: await readsSent(e) }
    const ms: number[] = []
    const started = performance.now()
    for (const id of list) {
      const t0 = performance.now()
      const res = await apiFetch(e, `/tasks/${id}`)
      await res.arrayBuffer()
      ms.push(performance.now() - t0)
      if (res.status !== want) throw new Error(`GET /tasks/${id} at e: ${res.status}, expected ${want}`)
    }
    const after = { cpu: cpu(), e: cpuSeconds(e.process.pid as number), sent: await readsSent(e) }
    ms.sort((x, y) => x - y)
    const secs = (performance.now() - started) / 1000
    const per = (k: 'fetch' | 'kad') => ((after.sent[k] - before.sent[k]) / list.length).toFixed(2)
    console.log(
      `  ${what.padEnd(13)} p50 ${pct(ms, 0.5).toFixed(2)} ms, p99 ${pct(ms, 0.99).toFixed(2)} ms; ` +
        `${(((after.cpu - before.cpu) * 1000) / list.length).toFixed(2)} CPU-s per 1,000 reads (5 daemons, ${((after.cpu - before.cpu) / secs).toFixed(2)} CPU-s/s, e ${((after.e - before.e) / secs).toFixed(2)}); ` +
        `per read ${per('fetch')} fetch frames, ${per('kad')} kad-dht streams`,
    )
  }
} finally {
  await Promise.all(daemons.map((d) => d.process.kill().catch(() => undefined)))
  await rm(root, { recursive: true, force: true })
}

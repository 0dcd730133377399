/**
 * How soon a restarted daemon works again: daemon `a` (data dir) and its peer `b`; `a` accepts N
 * tasks no node can run (they need the label `gpu`), is killed with SIGKILL and started again on
 * its dir. Prints when its HTTP API answered, when the first replayed task was queued and when all
 * were (each replayed task is looked up first — a peer may have run it meanwhile — over the fetch
 * protocol at `b`, then in the DHT for what that leaves open).
 * Also reports the restarted daemon's CPU-seconds until then.
 *
 *   npx tsx scripts/replay-time.ts [tasks, default 20000]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventually, sleepTask, startDaemon, status, submit } from './chaos/daemons.ts'
import { cpuSeconds } from './compare/processes.ts'

const tasks = Number(process.argv[2] ?? 20_000)
if (!Number.isInteger(tasks) || tasks < 1)
  throw new Error(`tasks must be a whole number >= 1, got ${process.argv[2]}`)

const root = await mkdtemp(join(tmpdir(), 'taskmesh-replay-'))
const b = await startDaemon(root, 'b', { slots: 1 })
const bootstrap = [b.addr]
const started = [b]
try {
  const a = await startDaemon(root, 'a', { slots: 1, bootstrap })
  started.push(a)
  for (let i = 0; i < tasks; i += 2_000) {
    const n = Math.min(2_000, tasks - i)
    await submit(
      a,
      Array.from({ length: n }, (_, k) => sleepTask(1, i + k, { resources: { labels: ['gpu'] } })),
    )
  }
  await eventually(async () => ((await status(a)).queued >= tasks ? true : undefined), 120_000, 'all queued')
  a.process.signal('SIGKILL')
  await a.process.exited

  const from = Date.now()
  const again = await startDaemon(root, 'a', { slots: 1, bootstrap, readyMs: 600_000 })
  started.push(again)
  const readyMs = Date.now() - from
  let firstMs: number | undefined
  await eventually(
    async () => {
      const { queued } = await status(again)
      if (firstMs === undefined && queued > 0) firstMs = Date.now() - from
      return queued >= tasks ? true : undefined
    },
    3_600_000,
    'every replayed task queued',
  )
  const allMs = Date.now() - from
  const cpu = cpuSeconds(again.process.pid as number)
  console.log(`replay of ${tasks} open tasks after SIGKILL (the restarted daemon, from its spawn):`)
  console.log(`  API up             ${(readyMs / 1000).toFixed(1)} s`)
  console.log(`  first task queued  ${((firstMs ?? allMs) / 1000).toFixed(1)} s`)
  console.log(`  every task queued  ${(allMs / 1000).toFixed(1)} s  (${cpu.toFixed(1)} CPU-s)`)
} finally {
  await Promise.all(started.map((d) => d.process.kill().catch(() => undefined)))
  await rm(root, { recursive: true, force: true })
}

/**
 * What watching tasks of another owner costs the node watched through: daemons `a` and `b`; `a`
 * accepts N tasks no node can run (they need the label `gpu`), a light client watches them all
 * through `b` for 20 s. Prints both daemons' CPU-seconds per second of the watch, beside the same
 * 20 s without a watch. `b` hears every result notice and polls for each awaited task: in batches
 * over the fetch protocol (`PollBatches`), a DHT lookup in its turn (`PollPacer`) for what a batch
 * does not answer; `a` answers both. Beside the CPU, what `b` sent for the polls: fetch frames
 * and kad-dht streams a second (from its status's accounting).
 *
 *   npx tsx scripts/remote-watch-cost.ts [tasks, default 5000]
 */
import '../src/polyfill.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TaskmeshClient } from '../src/client/taskmesh-client.ts'
import { eventually, meshKey, readsSent, sleepTask, startDaemon, status, submit } from './chaos/daemons.ts'
import { cpuSeconds } from './compare/processes.ts'

const WINDOW_MS = 20_000
const tasks = Number(process.argv[2] ?? 5_000)
if (!Number.isInteger(tasks) || tasks < 1 || tasks > 10_000)
  throw new Error(`tasks must be a whole number from 1 to 10000 (one watch), got ${process.argv[2]}`)

const root = await mkdtemp(join(tmpdir(), 'taskmesh-watch-'))
const b = await startDaemon(root, 'b', { slots: 1 })
const a = await startDaemon(root, 'a', { slots: 1, bootstrap: [b.addr] })

try {
  const ids: string[] = []
  for (let i = 0; i < tasks; i += 2_000) {
    const specs = Array.from({ length: Math.min(2_000, tasks - i) }, (_, k) =>
      sleepTask(1, i + k, { resources: { labels: ['gpu'] } }),
    )
    ids.push(...(await submit(a, specs)))
  }
  await eventually(async () => ((await status(a)).queued >= tasks ? true : undefined), 60_000, 'all queued')
  const cpu = () => [cpuSeconds(a.process.pid as number), cpuSeconds(b.process.pid as number)]
  const perSecond = async (): Promise<number[]> => {
    const before = cpu()
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS))
    return cpu().map((c, i) => (c - before[i]) / (WINDOW_MS / 1000))
  }
  const idle = await perSecond()
  const client = await TaskmeshClient.connect(b.addr, { swarmKey: await meshKey(root) })
  const stop = new AbortController()
  const watching = (async () => {
    for await (const _ of client.watch(ids, stop.signal));
  })().catch(() => undefined)
  const sentBefore = await readsSent(b)
  const watched = await perSecond()
  const sentAfter = await readsSent(b)
  stop.abort()
  await watching
  await client.close()
  const row = (name: string, i: number) =>
    `  ${name}  ${watched[i].toFixed(2)} CPU-s/s watched, ${idle[i].toFixed(2)} without the watch`
  console.log(`a light client watching ${tasks} tasks of daemon a through daemon b, ${WINDOW_MS / 1000} s:`)
  console.log(row('b (watched through)', 1))
  console.log(row('a (the owner)      ', 0))
  const rate = (k: 'fetch' | 'kad') => ((sentAfter[k] - sentBefore[k]) / (WINDOW_MS / 1000)).toFixed(1)
  console.log(`  b's polls: ${rate('fetch')} fetch frames/s, ${rate('kad')} kad-dht streams/s`)
} finally {
  await Promise.all([a, b].map((d) => d.process.kill().catch(() => undefined)))
  await rm(root, { recursive: true, force: true })
}

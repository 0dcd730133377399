/**
 * What following another owner's results as they land costs the node followed through: daemons `a`
 * (8 slots, the only one with the label the tasks need) and `b`; a light client connected to `b`
 * watches N short sleeps that `a` accepts and runs. `b` hears each result's notice and reads the
 * record from its executor (`a`): over the fetch protocol, the reads of a turn in one frame
 * (`PeerFetches`); before, a submit-protocol request on a stream of its own per result, with a DHT
 * lookup when that failed. Prints how long the watch took, both daemons' CPU-seconds over it, and
 * what `b` sent per protocol (streams opened, messages). A watch that has not ended after 60 s is
 * cut off and says how many results it saw.
 *
 *   npx tsx scripts/watch-landing-cost.ts [tasks, default 5000]
 */
import '../src/polyfill.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TaskmeshClient } from '../src/client/taskmesh-client.ts'
import { apiFetch, type Daemon, meshKey, sleepTask, startDaemon, submit } from './chaos/daemons.ts'
import { cpuSeconds } from './compare/processes.ts'

const WATCH_MS = 60_000
const tasks = Number(process.argv[2] ?? 5_000)
if (!Number.isInteger(tasks) || tasks < 1 || tasks > 10_000)
  throw new Error(`tasks must be a whole number from 1 to 10000 (one watch), got ${process.argv[2]}`)

type Sent = Record<string, { sends: number; streamsOut: number } | undefined>

/** What a daemon sent per protocol so far (its status's accounting). */
async function sentBy(d: Daemon): Promise<Sent> {
  const res = await apiFetch(d, '/status')
  return ((await res.json()) as { accounting: { protocols: Sent } }).accounting.protocols
}

const root = await mkdtemp(join(tmpdir(), 'taskmesh-landing-'))
const b = await startDaemon(root, 'b', { slots: 1 })
const a = await startDaemon(root, 'a', { slots: 8, labels: 'here', bootstrap: [b.addr] })
try {
  const client = await TaskmeshClient.connect(b.addr, { swarmKey: await meshKey(root) })
  const specs = Array.from({ length: tasks }, (_, k) => sleepTask(2, k, { resources: { labels: ['here'] } }))
  const cpu = () => [cpuSeconds(a.process.pid as number), cpuSeconds(b.process.pid as number)]
  const cpu0 = cpu()
  const before = await sentBy(b)
  const t0 = performance.now()
  const ids: string[] = []
  for (let i = 0; i < specs.length; i += 1_000) ids.push(...(await submit(a, specs.slice(i, i + 1_000))))
  let seen = 0
  let cut = ''
  try {
    for await (const _ of client.watch(ids, AbortSignal.timeout(WATCH_MS))) seen++
  } catch (err) {
    cut = ` (cut off after ${WATCH_MS / 1000} s: ${(err as Error).message.slice(0, 60)})`
  }
  const seconds = (performance.now() - t0) / 1000
  const [cpuA, cpuB] = cpu().map((c, i) => c - cpu0[i])
  const after = await sentBy(b)
  await client.close()
  console.log(`a light client watching ${tasks} tasks of daemon a through daemon b as they run:`)
  console.log(
    `  ${seen} results in ${seconds.toFixed(1)} s${cut}; CPU a ${cpuA.toFixed(2)} s, b ${cpuB.toFixed(2)} s`,
  )
  for (const p of ['fetch', 'submit', 'kad-dht']) {
    const d = (k: 'sends' | 'streamsOut') => (after[p]?.[k] ?? 0) - (before[p]?.[k] ?? 0)
    console.log(`  b ${p.padEnd(7)} ${d('streamsOut')} streams opened, ${d('sends')} messages sent`)
  }
} finally {
  await Promise.all([a, b].map((d) => d.process.kill().catch(() => undefined)))
  await rm(root, { recursive: true, force: true })
}

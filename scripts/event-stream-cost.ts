/**
 * What open `GET /events` streams cost a daemon: one daemon × 16 slots runs 20,000 no-ops
 * (submitted over HTTP) with no stream open, then with 3 (read and discarded), alternating,
 * `--rounds` times each. Prints the daemon's CPU per task each time and the medians.
 *
 *   npx tsx scripts/event-stream-cost.ts [--rounds 5] [--streams 3]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { apiFetch, eventually, startDaemon, status, submit } from './chaos/daemons.ts'
import { cpuSeconds } from './compare/processes.ts'

const TASKS = 20_000
const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, streams: { type: 'string', default: '3' } },
})
const rounds = Number(values.rounds)
const streams = Number(values.streams)
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error(`--rounds must be a whole number >= 1, got ${values.rounds}`)
if (!Number.isInteger(streams) || streams < 1)
  throw new Error(`--streams must be a whole number >= 1, got ${values.streams}`)

const root = await mkdtemp(join(tmpdir(), 'taskmesh-events-'))
const daemon = await startDaemon(root, 'd', { slots: 16 })

/** µs of the daemon's CPU per no-op while `open` event streams are read. */
async function run(open: number): Promise<number> {
  const stop = new AbortController()
  const readers: Array<Promise<void>> = []
  for (let i = 0; i < open; i++) {
    const res = await apiFetch(daemon, '/events', { signal: stop.signal })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    readers.push(
      (async () => {
        for (let r = await reader.read(); !r.done; r = await reader.read());
      })().catch(() => undefined),
    )
  }
  const executed = async () => (await status(daemon)).counters.executed ?? 0
  const before = await executed()
  const cpu = cpuSeconds(daemon.process.pid as number)
  for (let i = 0; i < TASKS; i += 1_000) {
    await submit(
      daemon,
      Array.from({ length: 1_000 }, (_, k) => ({ type: 'noop', input: i + k })),
    )
  }
  await eventually(async () => ((await executed()) - before >= TASKS ? true : undefined), 120_000, 'all run')
  const used = cpuSeconds(daemon.process.pid as number) - cpu
  stop.abort()
  await Promise.all(readers)
  return (used * 1e6) / TASKS
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
try {
  await run(0) // warm-up
  const none: number[] = []
  const some: number[] = []
  for (let r = 0; r < rounds; r++) {
    none.push(await run(0))
    some.push(await run(streams))
    console.log(
      `round ${r + 1}: ${none[r].toFixed(0)} µs per task, ${some[r].toFixed(0)} with ${streams} streams`,
    )
  }
  const extra = some.map((s, i) => s - none[i])
  console.log(
    `median: ${median(none).toFixed(0)} µs per task, ${median(some).toFixed(0)} with ${streams} event streams open (+${median(extra).toFixed(0)} µs, the median of the rounds' differences)`,
  )
} finally {
  await daemon.process.kill()
  await rm(root, { recursive: true, force: true })
}

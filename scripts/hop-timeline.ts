/**
 * Where one steal hop's latency goes: 3 daemons as `bench:compare` starts them (the third alone runs
 * `remote-noop`), one `remote-noop` at a time submitted at the first (`POST /tasks`, then
 * `GET /tasks/<id>?wait=`), 20 ms apart; after each, the stories of the owner and of the executor
 * (`GET /tasks/<id>/story`). Prints the median time of each story event after the request went
 * out, and the requests' p50. Story times are whole milliseconds: medians over the rounds still
 * show where the milliseconds go (the owner's offer to the thief, the completion back: each
 * crossing of processes).
 *
 *   npx tsx scripts/hop-timeline.ts [--rounds 150] [--durability sync|os]
 */
import '../src/polyfill.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { quantile } from '../src/simulation/random.ts'
import * as daemons from './compare/daemons.ts'

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '150' }, durability: { type: 'string', default: 'sync' } },
})
const rounds = Number(values.rounds)
if (!Number.isInteger(rounds) || rounds < 40)
  throw new Error(`--rounds: a whole number >= 40, got ${values.rounds}`)
if (values.durability !== 'sync' && values.durability !== 'os')
  throw new Error(`--durability: sync or os, got ${values.durability}`)
/** Rounds not counted (the mesh warms up). */
const WARM_ROUNDS = 20

const dir = await mkdtemp(join(tmpdir(), 'taskmesh-hop-'))
const swarmKey = join(dir, 'swarm.key')
daemons.taskmeshCli(['swarm-key', swarmKey])
const specs = [0, 1, 2].map((j) => ({
  name: `hop-${j}`,
  slots: 16,
  handlers: j === 2 ? [join(import.meta.dirname, 'compare/handlers.mjs')] : [],
}))
const extraFlags = ['--durability', values.durability]
const mesh = await daemons.startDaemons(specs, { dir, swarmKey, extraFlags, log: () => {} })
try {
  await daemons.awaitMesh(mesh, { offers: mesh[2], type: 'remote-noop' })
  const [owner, , executor] = mesh
  const events = new Map<string, number[]>()
  const requests: number[] = []
  for (let r = 0; r < rounds; r++) {
    const sent = Date.now()
    const t0 = performance.now()
    const ids = await owner.submit([{ type: 'remote-noop' }])
    const result = await owner.result(ids[0], 10_000)
    if (result === undefined) throw new Error('no remote-noop result within 10 s')
    if (r >= WARM_ROUNDS) {
      requests.push(performance.now() - t0)
      for (const [who, d] of [
        ['owner', owner],
        ['executor', executor],
      ] as const) {
        for (const e of await d.story(ids[0])) {
          const name = `${who}: ${e.event}`
          events.set(name, [...(events.get(name) ?? []), e.at - sent])
        }
      }
    }
    await sleep(20)
  }
  const p50 = (a: number[]) => quantile(a, 0.5)
  console.log(
    `submit, then GET ?wait= until the result: p50 ${p50(requests).toFixed(2)} ms (${requests.length} rounds)`,
  )
  for (const [name, at] of [...events].sort((a, b) => p50(a[1]) - p50(b[1])))
    console.log(`${String(p50(at)).padStart(5)} ms  ${name} (in ${at.length} of ${requests.length})`)
} finally {
  await daemons.stopDaemons(mesh)
  await rm(dir, { recursive: true, force: true })
}

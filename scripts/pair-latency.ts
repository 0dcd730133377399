/**
 * Submit → result latency of two builds of taskmesh side by side, paired: a mesh of 3 daemons from
 * each build (the third also runs `remote-noop`), both up at once, and one task at a time going to
 * one mesh then the other (the order swapped every round), so the machine's drift over the run
 * falls on both alike. Each round times a `noop` at the first daemon (it runs there) and a
 * `remote-noop` there (only the third daemon runs it: one steal hop), with `POST /tasks?wait=` as
 * `bench:compare` does, 20 ms apart. Prints p50 and p90 per build and path.
 *
 * On this shared machine the latency of one `bench:compare` run drifts by a third from run to run:
 * a change of a few tenths of a millisecond shows only side by side, in the same minutes.
 *
 *   git worktree add /tmp/base <commit> && ln -s "$PWD/node_modules" /tmp/base/node_modules
 *   (cd /tmp/base && npm run build) && npm run build
 *   npx tsx scripts/pair-latency.ts --base /tmp/base [--rounds 300]
 */
import '../src/polyfill.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { quantile } from '../src/simulation/random.ts'
import type * as DaemonsModule from './compare/daemons.ts'

const { values } = parseArgs({
  options: { base: { type: 'string' }, rounds: { type: 'string', default: '300' } },
})
const rounds = Number(values.rounds)
if (values.base === undefined || !Number.isInteger(rounds) || rounds < 40) {
  throw new Error(
    'usage: npx tsx scripts/pair-latency.ts --base <checkout of the other build> [--rounds n >= 40]',
  )
}
/** Rounds not counted (the meshes warm up). */
const WARM_ROUNDS = 20
const GAP_MS = 20
const PATHS = [
  { name: 'local', type: 'noop' },
  { name: 'one hop', type: 'remote-noop' },
] as const

type Daemons = typeof DaemonsModule
const builds: Array<{ name: string; daemons: Daemons }> = [
  { name: 'base', daemons: await import(resolve(values.base, 'scripts/compare/daemons.ts')) },
  { name: 'this', daemons: await import('./compare/daemons.ts') },
]
const dir = await mkdtemp(join(tmpdir(), 'taskmesh-pair-'))
const swarmKey = join(dir, 'swarm.key')
builds[1].daemons.taskmeshCli(['swarm-key', swarmKey])
const meshes: DaemonsModule.Daemon[][] = []
try {
  for (const [i, { daemons }] of builds.entries()) {
    const specs = [0, 1, 2].map((j) => ({
      name: `${builds[i].name}-${j}`,
      slots: 16,
      handlers: j === 2 ? [join(import.meta.dirname, 'compare/handlers.mjs')] : [],
    }))
    const extraFlags = ['--durability', 'sync']
    meshes.push(
      await daemons.startDaemons(specs, { dir: join(dir, `m${i}`), swarmKey, extraFlags, log: () => {} }),
    )
  }
  for (const [i, { daemons }] of builds.entries()) {
    await daemons.awaitMesh(meshes[i])
    await daemons.awaitMesh(meshes[i], { offers: meshes[i][2], type: 'remote-noop' })
  }
  const ms = builds.map(() => PATHS.map((): number[] => []))
  for (let r = 0; r < rounds; r++) {
    for (const [p, path] of PATHS.entries()) {
      for (const b of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const t0 = performance.now()
        const [record] = await meshes[b][0].submitAndWait([{ type: path.type }], 10_000)
        if (record === null) throw new Error(`${builds[b].name}: no ${path.type} result within 10 s`)
        if (r >= WARM_ROUNDS) ms[b][p].push(performance.now() - t0)
        await sleep(GAP_MS)
      }
    }
  }
  const q = (a: number[], p: number) => quantile(a, p).toFixed(2)
  for (const [p, path] of PATHS.entries()) {
    const [base, mine] = ms.map((m) => m[p])
    console.log(
      `${path.name}: base p50 ${q(base, 0.5)} p90 ${q(base, 0.9)} ms | this p50 ${q(mine, 0.5)} ` +
        `p90 ${q(mine, 0.9)} ms (${rounds - WARM_ROUNDS} pairs)`,
    )
  }
} finally {
  for (const [i, { daemons }] of builds.entries())
    if (meshes[i] !== undefined) await daemons.stopDaemons(meshes[i])
  await rm(dir, { recursive: true, force: true })
}

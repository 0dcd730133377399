/**
 * What keeping copies costs a node. A mesh of 3 daemons × 16 slots where every task goes to the
 * third daemon as `remote-noop` (only it runs them): the other two do nothing but keep the copies
 * of its records (and the custody holds of its tasks). Prints the CPU of those two per copy
 * received — main thread and every thread — and the executor's per task, beside one daemon alone
 * running the same number of `noop`s (no copies, no custody: what a task costs by itself). Beside
 * the CPU, the main thread's garbage-collection pauses per copy and per task, from each daemon's
 * own `/metrics`: scavenges + old-generation collections (V8's helper threads scavenge and mark
 * beside them, counted in the all-threads figure).
 *
 * In a mesh where every node runs tasks, each node keeps a copy of every other node's records: at
 * 3 daemons, 2 copies per task, so this figure is most of what `bench:compare`'s no-op run spends
 * beyond BullMQ. With `--base <checkout>`, the same mesh of the other build runs too, alternating
 * with this one, `--rounds` times each (absolute CPU drifts by a fifth here from run to run), and
 * the two are compared round by round too: in how many rounds this build's figure was the lower,
 * and the median of the rounds' ratios.
 *
 * With `--profile <dir>`, every daemon of the meshes runs under `node --cpu-prof` (profiles in
 * `<dir>/<build>-<round>/<daemon>/`, with the measured run's window for
 * `npx tsx scripts/cpu-profile-summary.ts`): the keepers are `*-0` and `*-1`, the executor `*-2`.
 *
 * With `--stolen`, the tasks enter at the first daemon instead, and the executor steals every one
 * of them (the path of a skewed workload): each record then carries the owner's grant proof, which
 * the other keeper checks, and the owner takes each completion with its record. The owner's CPU
 * per task is printed too; the keeper figure is the second daemon's alone.
 *
 *   npx tsx scripts/replica-cost.ts [--tasks 20000] [--rounds 3] [--base <checkout>] [--profile <dir>] [--stolen]
 */
import '../src/polyfill.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { paired, pairedText } from './bench/paired.ts'
import type * as DaemonsModule from './compare/daemons.ts'
import { profileWindows } from './compare/noop.ts'
import { cpuSeconds, threadKinds } from './compare/processes.ts'

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    tasks: { type: 'string', default: '20000' },
    profile: { type: 'string' },
    stolen: { type: 'boolean', default: false },
  },
})
const rounds = Number(values.rounds)
const stolen = values.stolen === true
const tasks = Number(values.tasks)
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(tasks) || tasks < 1000) {
  throw new Error(
    'usage: npx tsx scripts/replica-cost.ts [--tasks n >= 1000] [--rounds n >= 1] [--base <checkout>] [--stolen]',
  )
}
const WARMUP = 5_000
const BATCH = 500

type Daemons = typeof DaemonsModule
type Daemon = DaemonsModule.Daemon
const builds: Array<{ name: string; daemons: Daemons }> = [
  { name: 'this', daemons: await import('./compare/daemons.ts') },
]
if (values.base !== undefined) {
  builds.push({ name: 'base', daemons: await import(resolve(values.base, 'scripts/compare/daemons.ts')) })
}

/** CPU seconds of a daemon: the main thread's and every thread's. */
const cpuOf = (d: Daemon) => ({ main: threadKinds(d.pid).get('main') ?? Number.NaN, all: cpuSeconds(d.pid) })

/**
 * Seconds a daemon's main thread spent in garbage collection so far, from its own `/metrics`
 * (prom-client's `nodejs_gc_duration_seconds`): scavenges, and the old generation's collections
 * (major and incremental marking) — what retained objects cost.
 */
async function gcOf(d: Daemon): Promise<{ minor: number; old: number }> {
  const text = await d.metrics()
  const sum = (kinds: string[]) =>
    kinds.reduce((total, kind) => {
      const m = text.match(new RegExp(`^nodejs_gc_duration_seconds_sum\\{kind="${kind}"\\} (\\S+)$`, 'm'))
      return total + (m === null ? 0 : Number(m[1]))
    }, 0)
  return { minor: sum(['minor']), old: sum(['major', 'incremental']) }
}

/** Submits `count` tasks of `type` to `at` in batches, and waits until every copy is stored. */
async function run(daemons: Daemons, mesh: Daemon[], at: Daemon, type: string, count: number): Promise<void> {
  const signed = await daemons.recordsSigned(mesh)
  const copies = await daemons.copiesStored(mesh)
  for (let done = 0; done < count; done += BATCH) {
    await at.submit(Array.from({ length: Math.min(BATCH, count - done) }, () => ({ type })))
  }
  await pollUntil(() => daemons.recordsSigned(mesh), signed + count, 'records signed')
  await pollUntil(() => daemons.copiesStored(mesh), copies + mesh.length * count, 'copies stored')
}

async function pollUntil(read: () => Promise<number>, target: number, what: string): Promise<void> {
  const deadline = Date.now() + 300_000
  while ((await read()) < target) {
    if (Date.now() > deadline) throw new Error(`replica-cost: ${what} never reached ${target}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

interface Figures {
  /**
   * µs per copy received, main thread / all threads: the mean of the two keepers, or with
   * `--stolen` the one keeper that is not the owner.
   */
  keeperMain: number
  keeperAll: number
  /** µs per task at the executor, all threads. */
  executorAll: number
  /** With `--stolen`: µs per task at the owner (intake, grants, completions, its own copy), all threads. */
  ownerAll?: number
  /** µs of garbage collection per copy (keepers' mean) and per task (executor): scavenges, old generation. */
  keeperGc: { minor: number; old: number }
  executorGc: { minor: number; old: number }
  /** µs per task by thread kind (main, libuv-worker, V8 workers, LevelDB's `t<n>`…): executor, a keeper. */
  executorThreads: Map<string, number>
  keeperThreads: Map<string, number>
}

/** µs per task of each thread kind between two `threadKinds` readings. */
function perKind(
  before: Map<string, number>,
  after: Map<string, number>,
  count: number,
): Map<string, number> {
  const out = new Map<string, number>()
  for (const [kind, s] of after) out.set(kind, ((s - (before.get(kind) ?? 0)) / count) * 1e6)
  return out
}

/** The kinds that took at least 2 µs per task, largest first: `main 120, libuv-worker 14, …`. */
function kindsText(kinds: Map<string, number>): string {
  return [...kinds]
    .filter(([, us]) => us >= 2)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, us]) => `${kind} ${us.toFixed(0)}`)
    .join(', ')
}

/** One mesh of a build: warm-up, then the measured tasks; figures per copy and per task. */
async function meshRun(
  build: (typeof builds)[number],
  dir: string,
  swarmKey: string,
  profileDir?: string,
): Promise<Figures> {
  const { daemons } = build
  const specs = [0, 1, 2].map((j) => ({
    name: `${build.name}-${j}`,
    slots: 16,
    handlers: j === 2 ? [join(import.meta.dirname, 'compare/handlers.mjs')] : [],
  }))
  const mesh = await daemons.startDaemons(specs, { dir, swarmKey, extraFlags: [], log: () => {}, profileDir })
  try {
    // tasks enter at the executor, or with --stolen at daemon 0, whose tasks the executor steals
    const at = stolen ? mesh[0] : mesh[2]
    await run(daemons, mesh, at, 'remote-noop', WARMUP)
    const gcBefore = await Promise.all(mesh.map(gcOf))
    const before = mesh.map(cpuOf)
    const kindsBefore = mesh.map((d) => threadKinds(d.pid))
    const t0 = performance.now()
    await run(daemons, mesh, at, 'remote-noop', tasks)
    if (profileDir !== undefined) await profileWindows(profileDir, mesh, t0, performance.now())
    const kinds = mesh.map((d, i) => perKind(kindsBefore[i], threadKinds(d.pid), tasks))
    const spent = mesh.map((d, i) => {
      const now = cpuOf(d)
      return { main: now.main - before[i].main, all: now.all - before[i].all }
    })
    const gc = (await Promise.all(mesh.map(gcOf))).map((g, i) => ({
      minor: g.minor - gcBefore[i].minor,
      old: g.old - gcBefore[i].old,
    }))
    const perCopy = (s: number) => (s / tasks) * 1e6
    const keepers = stolen ? [1] : [0, 1]
    const keeperMean = (f: (i: number) => number) =>
      perCopy(keepers.reduce((a, i) => a + f(i), 0) / keepers.length)
    return {
      keeperMain: keeperMean((i) => spent[i].main),
      keeperAll: keeperMean((i) => spent[i].all),
      executorAll: perCopy(spent[2].all),
      ...(stolen ? { ownerAll: perCopy(spent[0].all) } : {}),
      keeperGc: { minor: keeperMean((i) => gc[i].minor), old: keeperMean((i) => gc[i].old) },
      executorGc: { minor: perCopy(gc[2].minor), old: perCopy(gc[2].old) },
      executorThreads: kinds[2],
      keeperThreads: kinds[1],
    }
  } finally {
    await daemons.stopDaemons(mesh)
  }
}

/** A daemon alone running `noop`s: µs per task, all threads. */
async function soloRun(dir: string, swarmKey: string): Promise<number> {
  const { daemons } = builds[0]
  const mesh = await daemons.startDaemons([{ name: 'alone', slots: 16 }], {
    dir,
    swarmKey,
    extraFlags: [],
    log: () => {},
  })
  try {
    await run(daemons, mesh, mesh[0], 'noop', WARMUP)
    const before = cpuSeconds(mesh[0].pid)
    await run(daemons, mesh, mesh[0], 'noop', tasks)
    return ((cpuSeconds(mesh[0].pid) - before) / tasks) * 1e6
  } finally {
    await daemons.stopDaemons(mesh)
  }
}

/** GC µs as `scavenge + old generation`. */
function gcText(g: { minor: number; old: number }): string {
  return `${g.minor.toFixed(1)} + ${g.old.toFixed(1)} µs`
}

const dir = await mkdtemp(join(tmpdir(), 'taskmesh-replica-cost-'))
const swarmKey = join(dir, 'swarm.key')
builds[0].daemons.taskmeshCli(['swarm-key', swarmKey])
try {
  const alone = await soloRun(join(dir, 'alone'), swarmKey)
  console.log(`a daemon alone: ${alone.toFixed(0)} µs CPU per no-op (every thread)`)
  const results = new Map<string, Figures[]>(builds.map((b) => [b.name, []]))
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? builds : [...builds].reverse()
    for (const build of order) {
      const profileDir =
        values.profile === undefined ? undefined : resolve(values.profile, `${build.name}-${r}`)
      const f = await meshRun(build, join(dir, `${build.name}-${r}`), swarmKey, profileDir)
      results.get(build.name)?.push(f)
      console.log(
        `round ${r + 1} ${build.name}: keeper ${f.keeperMain.toFixed(0)} µs main thread, ${f.keeperAll.toFixed(0)} µs all threads per copy; executor ${f.executorAll.toFixed(0)} µs per task; ` +
          (f.ownerAll === undefined ? '' : `owner ${f.ownerAll.toFixed(0)} µs per task; `) +
          `GC keeper ${gcText(f.keeperGc)}, executor ${gcText(f.executorGc)}\n` +
          `  threads (µs per task), executor: ${kindsText(f.executorThreads)}; a keeper: ${kindsText(f.keeperThreads)}`,
      )
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  const meanGc = (gs: Array<{ minor: number; old: number }>) => ({
    minor: mean(gs.map((g) => g.minor)),
    old: mean(gs.map((g) => g.old)),
  })
  const [mine, theirs] = [...results.values()]
  if (theirs !== undefined) {
    const of = (fs: Figures[], f: (x: Figures) => number) => fs.map(f)
    const copy = paired(
      of(mine, (f) => f.keeperAll),
      of(theirs, (f) => f.keeperAll),
    )
    const task = paired(
      of(mine, (f) => f.executorAll),
      of(theirs, (f) => f.executorAll),
    )
    const owner = stolen
      ? `; the owner's task ${pairedText(
          paired(
            of(mine, (f) => f.ownerAll ?? Number.NaN),
            of(theirs, (f) => f.ownerAll ?? Number.NaN),
          ),
        )}`
      : ''
    console.log(
      `this against base, round by round: a kept copy ${pairedText(copy)}; the executor's task ${pairedText(task)}${owner}`,
    )
  }
  for (const [name, fs] of results) {
    console.log(
      `${name} (mean of ${fs.length}): per copy kept ${mean(fs.map((f) => f.keeperMain)).toFixed(0)} µs main thread, ` +
        `${mean(fs.map((f) => f.keeperAll)).toFixed(0)} µs all threads; per task at the executor ${mean(fs.map((f) => f.executorAll)).toFixed(0)} µs (alone: ${alone.toFixed(0)}); ` +
        (stolen ? `at the owner ${mean(fs.map((f) => f.ownerAll ?? Number.NaN)).toFixed(0)} µs; ` : '') +
        `GC keeper ${gcText(meanGc(fs.map((f) => f.keeperGc)))}, executor ${gcText(meanGc(fs.map((f) => f.executorGc)))}`,
    )
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}

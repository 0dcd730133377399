/**
 * What a task allocates: 3 real nodes in this process (TCP on 127.0.0.1, 16 slots each) run no-ops
 * submitted at all three in batches of 500, every result stored at its 3 holders; V8's sampling heap
 * profiler counts every allocation of the measured run — objects the scavenger collected included —
 * and the script prints bytes allocated per task (all three nodes) and the functions that allocate
 * most. Allocation drives the young generation's scavenges (a third of a busy node's CPU with their
 * helper threads): this figure is the regression number for "fewer allocations on the hot path".
 *
 * With `--base <checkout>`, the same run of the other checkout's sources alternates with this one,
 * each in a fresh process, `--rounds` times each. Sampled bytes vary ~1 % run to run.
 *
 * With `--survivors`, only the objects that outlived a scavenge count: those copied to the old
 * generation (each such byte is copied by the scavenger, then marked by the collector's threads
 * before it is freed) — the bytes a task keeps alive for a while, and where they were made.
 *
 * With `--queued`, what a task keeps alive while it waits: `--tasks` 60-second sleeps queued at 3
 * nodes of one slot each (owners, custodians and thieves hold them), then the heap in use after a
 * full collection, per task queued, less the same with 500 queued. A benchmark's backlog lives in
 * the old generation: its collector marks every byte of it, cycle after cycle.
 *
 *   npx tsx scripts/alloc-cost.ts [--tasks 10000] [--rounds 2] [--top 25] [--base <checkout>] [--survivors | --queued]
 *   node --no-turbo-inlining --import tsx scripts/alloc-cost.ts   # sites without inlining (callers' bytes apart)
 */
import { spawn } from 'node:child_process'
import { Session } from 'node:inspector/promises'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    tasks: { type: 'string', default: '10000' },
    top: { type: 'string', default: '25' },
    child: { type: 'string' },
    survivors: { type: 'boolean', default: false },
    queued: { type: 'boolean', default: false },
  },
})
const tasks = Number(values.tasks)
const BATCH = 500
const WARM_UP = 5_000
/** Bytes between two samples of V8's sampling heap profiler (its default is 32 KiB). */
const SAMPLING_BYTES = 2_048

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number }
  selfSize: number
  children: HeapNode[]
}

interface RunFigures {
  bytesPerTask: number
  ms: number
  sites: Array<[string, number]>
}

/** A script's URL, short: a dependency's package and file, or the path in the checkout. */
function where(url: string): string {
  if (url === '') return '(V8 built-in)'
  const dep = url.lastIndexOf('node_modules/')
  if (dep >= 0) return url.slice(dep + 'node_modules/'.length)
  const src = url.search(/\/(src|scripts)\//)
  return src >= 0 ? url.slice(src + 1) : url
}

/** 3 real nodes of `slots` slots each, from the sources under `root`, in this process. */
async function meshOf(root: string, slots: number) {
  await import(join(root, 'src/polyfill.ts'))
  const { startLocalMesh } = (await import(
    join(root, 'src/simulation/mesh.ts')
  )) as typeof import('../src/simulation/mesh.ts')
  return startLocalMesh({ nodes: 3, slots })
}

/** One measured run of the sources under `root`, in this process. */
async function measure(root: string): Promise<RunFigures> {
  const nodes = await meshOf(root, 16)
  const run = async (count: number) => {
    const waits: Promise<unknown>[] = []
    for (let i = 0, k = 0; i < count; i += BATCH, k++) {
      const handles = await nodes[k % nodes.length].submitMany(
        Array.from({ length: Math.min(BATCH, count - i) }, () => ({ type: 'noop' })),
      )
      waits.push(Promise.all(handles.map((h) => h.result())))
    }
    await Promise.all(waits)
    await Promise.all(nodes.map((n) => n.flushResults()))
  }
  try {
    await run(WARM_UP)
    const session = new Session()
    session.connect()
    await session.post('HeapProfiler.enable')
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: SAMPLING_BYTES,
      includeObjectsCollectedByMajorGC: true,
      // --survivors: only what outlived a scavenge (promoted to the old generation, or still live)
      includeObjectsCollectedByMinorGC: !values.survivors,
    })
    const t0 = performance.now()
    await run(tasks)
    const ms = performance.now() - t0
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: HeapNode } }
    session.disconnect()
    const bySite = new Map<string, number>()
    let total = 0
    const walk = (n: HeapNode) => {
      if (n.selfSize > 0) {
        const { functionName, url, lineNumber } = n.callFrame
        const site = `${functionName || '(anonymous)'} ${where(url)}${lineNumber > 0 ? `:${lineNumber + 1}` : ''}`
        bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize)
        total += n.selfSize
      }
      for (const c of n.children) walk(c)
    }
    walk(profile.head)
    const sites = [...bySite].sort((a, b) => b[1] - a[1]).map(([s, b]): [string, number] => [s, b / tasks])
    return { bytesPerTask: total / tasks, ms, sites }
  } finally {
    await Promise.all(nodes.map((n) => n.stop()))
  }
}

/** Heap in use after full collections (`--expose-gc` turned on at run time). */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** `--queued`: bytes kept alive per queued task (see the header), 3 nodes summed. */
async function measureQueued(root: string): Promise<RunFigures> {
  const nodes = await meshOf(root, 1)
  const queue = async (count: number, from: number) => {
    for (let i = 0; i < count; i += BATCH) {
      const specs = Array.from({ length: BATCH }, (_, j) => ({
        type: 'sleep',
        input: { ms: 60_000, output: from + i + j },
      }))
      await nodes[(i / BATCH) % nodes.length].submitMany(specs)
    }
    // custody holds, steals and journal writes of the last batch settle
    await new Promise((r) => setTimeout(r, 2_000))
    return heapAfterGc()
  }
  try {
    const t0 = performance.now()
    const before = await queue(BATCH, 0)
    const after = await queue(tasks, BATCH)
    return { bytesPerTask: (after - before) / tasks, ms: performance.now() - t0, sites: [] }
  } finally {
    await Promise.all(nodes.map((n) => n.stop()))
  }
}

/** Runs {@link measure} for `root` in a fresh process (a heap of its own) and reads its figures. */
function inChild(root: string): Promise<RunFigures> {
  return new Promise((done, fail) => {
    // this process's own options (tsx's loader, V8 flags) and this script, as a child run
    const args = [...process.execArgv, process.argv[1], '--child', root, '--tasks', String(tasks)]
    if (values.survivors) args.push('--survivors')
    if (values.queued) args.push('--queued')
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.on('error', fail)
    child.on('exit', (code) => {
      if (code !== 0) return fail(new Error(`alloc-cost run of ${root} exited with ${code}`))
      done(JSON.parse(out.slice(out.lastIndexOf('\n{') + 1)) as RunFigures)
    })
  })
}

const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`

if (values.child !== undefined) {
  const figures = await (values.queued ? measureQueued : measure)(values.child)
  process.stdout.write(`\n${JSON.stringify({ ...figures, sites: figures.sites.slice(0, 200) })}\n`)
  process.exit(0)
}

const here = resolve(import.meta.dirname, '..')
const sides =
  values.base === undefined
    ? [['this', here]]
    : [
        ['this', here],
        ['base', resolve(values.base)],
      ]
const what = values.queued ? 'kept alive' : 'allocated'
const results = new Map<string, RunFigures[]>(sides.map(([name]) => [name, []]))
for (let round = 1; round <= Number(values.rounds); round++) {
  // alternate the order each round: neither side always runs on a warmer machine
  const order = round % 2 === 1 ? sides : [...sides].reverse()
  for (const [name, root] of order) {
    const f = await inChild(root)
    results.get(name)?.push(f)
    console.log(
      `round ${round} ${name}: ${kb(f.bytesPerTask)} ${what} per task (${tasks} ${values.queued ? 'queued' : 'no-ops'} in ${f.ms.toFixed(0)} ms)`,
    )
  }
}
for (const [name, runs] of results) {
  const mean = runs.reduce((s, r) => s + r.bytesPerTask, 0) / runs.length
  console.log(`${name} (mean of ${runs.length}): ${kb(mean)} ${what} per task, 3 nodes summed`)
}
const last = results.get('this')?.at(-1)
if (last !== undefined && last.sites.length > 0) {
  console.log(`\nthis build's top ${values.top} allocation sites, bytes per task (last run):`)
  for (const [site, bytes] of last.sites.slice(0, Number(values.top))) {
    console.log(`${bytes.toFixed(0).padStart(8)}  ${site}`)
  }
}

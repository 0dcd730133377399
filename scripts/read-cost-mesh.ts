/**
 * What a result read costs a larger mesh, in one process (memory transport, the simulation's
 * topology): N nodes; 4 of them run 100 `echo` tasks each; then the last node reads every record
 * with `getResult` past its cache, one at a time — as a node reads (a batch lookup over the fetch
 * protocol, kad-dht only for a task it cannot tell about) and with `dhtOnly` (kad-dht's own
 * lookup), alternating, 2 rounds each. Prints per read: wall ms, the process's CPU-ms (every node
 * is in it), fetch frames and kad-dht streams the reader opened.
 *
 *   npx tsx scripts/read-cost-mesh.ts [nodes, default 16]
 */
import '../src/polyfill.ts'
import type { TaskmeshNode } from '../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../src/simulation/mesh.ts'

const count = Number(process.argv[2] ?? 16)
if (!Number.isInteger(count) || count < 5 || count > 100)
  throw new Error(`nodes must be a whole number from 5 to 100, got ${process.argv[2]}`)
/** Nodes that run tasks, and the tasks each runs. */
const RUNNERS = 4
const TASKS_EACH = 100

const nodes = await startLocalMesh({ nodes: count, slots: 4, transport: 'memory' })
try {
  const ids: string[] = []
  for (let k = 0; k < RUNNERS; k++) {
    const specs = Array.from({ length: TASKS_EACH }, (_, i) => ({ type: 'echo', input: k * TASKS_EACH + i }))
    const handles = await nodes[k].submitMany(specs)
    await Promise.all(handles.map((h) => h.result()))
    ids.push(...handles.map((h) => h.id))
  }
  await Promise.all(nodes.map((n) => n.flushResults()))
  const reader = nodes[count - 1] as TaskmeshNode
  const sent = () => {
    const { protocols } = reader.status().accounting
    return { fetch: protocols.fetch?.sends ?? 0, kad: protocols['kad-dht']?.streamsOut ?? 0 }
  }
  console.log(`${ids.length} reads at one node of ${count} (memory transport, one process):`)
  for (const dhtOnly of [false, true, false, true]) {
    const cpu = process.cpuUsage()
    const before = sent()
    const started = performance.now()
    let found = 0
    for (const id of ids)
      if ((await reader.getResult(id, { skipCache: true, dhtOnly })) !== undefined) found++
    const used = process.cpuUsage(cpu)
    const after = sent()
    const per = (n: number) => (n / ids.length).toFixed(2)
    console.log(
      `  ${dhtOnly ? 'kad-dht lookup' : 'batch lookup  '}  ${found}/${ids.length} found, ` +
        `${per(performance.now() - started)} ms and ${per((used.user + used.system) / 1000)} CPU-ms a read, ` +
        `${per(after.fetch - before.fetch)} fetch frames, ${per(after.kad - before.kad)} kad-dht streams`,
    )
  }
} finally {
  await Promise.all(nodes.map((n) => n.stop()))
}

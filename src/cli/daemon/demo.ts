import { WorkerPool } from '../../executor/worker-pool.ts'
import type { ResultRecord } from '../../protocol/records/result-record.ts'
import { startLocalMesh, stopMesh } from '../../simulation/mesh.ts'

/** Flags of `taskmesh demo`. */
export interface DemoFlags {
  nodes: number
  tasks: number
}

/**
 * `taskmesh demo`: starts a small mesh on loopback, submits a mix of real work (SHA-256 chains
 * in the worker pool, timers, echoes) at the first node, lets idle nodes steal, and reads every
 * result back from the DHT at the last node.
 */
export async function runDemo(flags: DemoFlags): Promise<void> {
  const pool = new WorkerPool({ modules: [], maxThreads: 2 })
  console.log(`starting ${flags.nodes} nodes on 127.0.0.1 …`)
  const nodes = await startLocalMesh({ nodes: flags.nodes, slots: 2, pool })
  const name = new Map(nodes.map((n, i) => [n.peerId, `node-${String.fromCharCode(65 + i)}`]))
  for (const n of nodes) console.log(`  ${name.get(n.peerId)}  ${n.peerId}  ${n.multiaddrs[0]}`)
  try {
    const specs = Array.from({ length: flags.tasks }, (_, i) => {
      if (i % 3 === 0) return { type: 'sha256', input: { data: `block-${i}`, iterations: 50_000 } }
      if (i % 3 === 1) return { type: 'sleep', input: { ms: 100, output: `slept-${i}` } }
      return { type: 'echo', input: { message: `hello-${i}` } }
    })
    const started = performance.now()
    const handles = await nodes[0].submitMany(specs)
    console.log(`submitted ${handles.length} tasks at node-A; waiting for results (subscription) …`)
    const seen: ResultRecord[] = []
    for await (const record of nodes[0].results(handles.map((h) => h.id))) seen.push(record)
    const elapsed = performance.now() - started
    await Promise.all(nodes.map((n) => n.flushResults()))
    const reader = nodes[nodes.length - 1]
    console.log(`\nresults read back from the DHT at ${name.get(reader.peerId)}:`)
    for (const h of handles) {
      const r = await reader.getResult(h.id, { skipCache: true })
      const out = r === undefined ? 'MISSING' : JSON.stringify(r.output ?? r.error).slice(0, 40)
      const ran =
        r === undefined
          ? ''
          : `${name.get(r.executor)} ${(r.finishedAt - r.startedAt).toFixed(0).padStart(4)} ms`
      console.log(`  ${h.task.spec.type.padEnd(7)} ${h.id.slice(-12)}  ${r?.status ?? '-'}  ${ran}  ${out}`)
    }
    const perNode = nodes.map(
      (n) => `${name.get(n.peerId)}: ${seen.filter((r) => r.executor === n.peerId).length}`,
    )
    const stolen = nodes.reduce((s, n) => s + n.status().counters.tasksStolen, 0)
    console.log(
      `\n${seen.length}/${handles.length} results in ${elapsed.toFixed(0)} ms; executed per node: ${perNode.join(', ')}; ${stolen} tasks stolen`,
    )
  } finally {
    await stopMesh(nodes)
    await pool.close()
  }
}

import { availableParallelism } from 'node:os'
import type { WorkerPool } from '../executor/worker-pool.ts'
import { type MeshProgress, startLocalMesh } from './mesh.ts'
import { seededRandom } from './random.ts'
import { LocalSimNode, type SimNode, type SimNodeOptions } from './sim-node.ts'
import { startNodeThread } from './thread-mesh.ts'
import { formationTargets, meshTopology } from './topology.ts'

/** Where a simulation's nodes run. */
export type SimLayout = 'cores' | 'threads' | 'shared-loop'

/** Options of {@link startSimMesh}. */
export interface SimMeshOptions {
  /** Options of each node, by index. */
  nodes: SimNodeOptions[]
  /**
   * `cores`: one worker thread per core of the machine, the nodes dealt out among them in turn
   * (node i to thread i mod cores), each thread's nodes on its event loop (TCP only);
   * `threads`: each node in a worker thread of its own (TCP only); `shared-loop`: every node in the
   * caller's event loop. @defaultValue 'shared-loop'
   */
  layout?: SimLayout
  /** A worker pool the shared-loop nodes share. */
  pool?: WorkerPool
  /** Connections each node plans (see `meshTopology`). @defaultValue 8 */
  degree?: number
  /** Called as nodes start and as the mesh forms. */
  onProgress?: (event: MeshProgress) => void
}

/** Longest the mesh may take to form, ms. */
const MESH_TIMEOUT_MS = 180_000
/** Nodes started at once in threads (each thread loads the whole stack first). */
const THREAD_START_WAVE = 4

/**
 * Starts a simulated mesh: every node listens on loopback, nodes are linked as `meshTopology`
 * plans (every pair in a small mesh, a ring with chords in a large one), and it resolves once each
 * node hears the capacity beacons of as many peers as it was linked to (`formationTargets`): ready
 * to steal.
 */
export async function startSimMesh(opts: SimMeshOptions): Promise<SimNode[]> {
  const layout = opts.layout ?? 'shared-loop'
  if (layout !== 'shared-loop' && opts.nodes.some((o) => o.transport === 'memory')) {
    throw new Error('the in-memory transport works within one event loop only: use the shared-loop layout')
  }
  if (layout === 'shared-loop') {
    const local = await startLocalMesh({
      nodes: opts.nodes.length,
      slots: opts.nodes.map((o) => o.slots ?? 1),
      transport: opts.nodes[0]?.transport,
      pool: opts.pool,
      nodeOptions: (i) => opts.nodes[i],
      degree: opts.degree,
      onProgress: opts.onProgress,
    })
    return local.map((n) => new LocalSimNode(n))
  }
  const total = opts.nodes.length
  const nodes: SimNode[] = []
  try {
    if (layout === 'threads') {
      for (let i = 0; i < total; i += THREAD_START_WAVE) {
        const wave = await startThreads(opts.nodes.slice(i, i + THREAD_START_WAVE).map((o) => [o]))
        nodes.push(...wave.flat())
        opts.onProgress?.({ phase: 'start', done: nodes.length, total })
      }
    } else {
      const loops = Math.min(total, availableParallelism())
      const groups = Array.from({ length: loops }, (_, t) => opts.nodes.filter((_, i) => i % loops === t))
      const threads = await startThreads(groups)
      // back in the caller's order: node i is the (i div loops)-th of thread i mod loops
      for (let i = 0; i < total; i++) nodes.push(threads[i % loops][Math.floor(i / loops)])
      opts.onProgress?.({ phase: 'start', done: total, total })
    }
    const links = meshTopology(total, seededRandom(1), { degree: opts.degree })
    const targets = nodes.map(() => [] as string[])
    for (const { from, to } of links) targets[from].push(nodes[to].multiaddrs[0])
    await Promise.all(nodes.map((n, i) => (targets[i].length > 0 ? n.dial(targets[i]) : undefined)))
    const want = formationTargets(total, links)
    let formed = 0
    await Promise.all(
      nodes.map(async (n, i) => {
        await n.waitForPeers(want[i], MESH_TIMEOUT_MS)
        opts.onProgress?.({ phase: 'form', done: ++formed, total })
      }),
    )
    return nodes
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n.stop()))
    throw err
  }
}

/** Starts a thread for each group of nodes; if one fails, stops the others' nodes and throws. */
async function startThreads(groups: SimNodeOptions[][]): Promise<SimNode[][]> {
  const started = await Promise.allSettled(groups.map((g) => startNodeThread(g)))
  const failed = started.find((r) => r.status === 'rejected')
  if (failed === undefined) return started.map((r) => (r as PromiseFulfilledResult<SimNode[]>).value)
  const up = started.flatMap((r) => (r.status === 'fulfilled' ? r.value : []))
  await Promise.allSettled(up.map((n) => n.stop()))
  throw failed.reason
}

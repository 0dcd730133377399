import type { WorkerPool } from '../executor/worker-pool.ts'
import { startLocalMesh } from './mesh.ts'
import { LocalSimNode, type SimNode, type SimNodeOptions } from './sim-node.ts'
import { ThreadSimNode } from './thread-mesh.ts'

/** Where a simulation's nodes run. */
export type SimLayout = 'threads' | 'shared-loop'

/** Options of {@link startSimMesh}. */
export interface SimMeshOptions {
  /** Options of each node, by index. */
  nodes: SimNodeOptions[]
  /**
   * `threads`: each node in a worker thread of its own (its own event loop, TCP only);
   * `shared-loop`: every node in the caller's event loop. @defaultValue 'shared-loop'
   */
  layout?: SimLayout
  /** A worker pool the shared-loop nodes share. */
  pool?: WorkerPool
}

/** Longest the mesh may take to form, ms. */
const MESH_TIMEOUT_MS = 60_000
/** Nodes started at once in threads (each thread loads the whole stack first). */
const THREAD_START_WAVE = 4

/**
 * Starts a simulated mesh: every node listens on loopback, every pair is connected, and it resolves
 * once each node hears every other's capacity beacon (ready to steal).
 */
export async function startSimMesh(opts: SimMeshOptions): Promise<SimNode[]> {
  const layout = opts.layout ?? 'shared-loop'
  if (layout === 'threads' && opts.nodes.some((o) => o.transport === 'memory')) {
    throw new Error('the in-memory transport works within one event loop only: use the shared-loop layout')
  }
  let nodes: SimNode[]
  if (layout === 'shared-loop') {
    const local = await startLocalMesh({
      nodes: opts.nodes.length,
      slots: opts.nodes.map((o) => o.slots ?? 1),
      transport: opts.nodes[0]?.transport,
      pool: opts.pool,
      nodeOptions: (i) => opts.nodes[i],
    })
    return local.map((n) => new LocalSimNode(n))
  }
  nodes = []
  try {
    for (let i = 0; i < opts.nodes.length; i += THREAD_START_WAVE) {
      const wave = opts.nodes.slice(i, i + THREAD_START_WAVE)
      nodes.push(...(await Promise.all(wave.map((o) => ThreadSimNode.start(o)))))
    }
    for (let i = 0; i < nodes.length; i++) {
      const later = nodes.slice(i + 1).map((n) => n.multiaddrs[0])
      if (later.length > 0) await nodes[i].dial(later)
    }
    await Promise.all(nodes.map((n) => n.waitForPeers(nodes.length - 1, MESH_TIMEOUT_MS)))
    return nodes
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n.stop()))
    throw err
  }
}

import { multiaddr } from '@multiformats/multiaddr'
import type { WorkerPool } from '../executor/worker-pool.ts'
import type { TaskmeshNodeOptions } from '../node/options.ts'
import { TaskmeshNode } from '../node/taskmesh-node.ts'

/** Options of {@link startLocalMesh}. */
export interface LocalMeshOptions {
  nodes: number
  /** Slots per node: one number for all, or one per node. */
  slots: number | number[]
  transport?: 'tcp' | 'memory'
  pool?: WorkerPool
  /** Extra options per node (index → options). */
  nodeOptions?: (index: number) => Partial<TaskmeshNodeOptions>
}

/** Nodes started waves at a time, so loopback dials do not time out. */
const START_WAVE = 10

/**
 * Starts `nodes` real taskmesh nodes in this process on loopback (TCP, or the in-memory
 * transport), connects every pair, and resolves once each node has heard every other's
 * capacity beacon — the mesh is then ready to steal.
 */
export async function startLocalMesh(opts: LocalMeshOptions): Promise<TaskmeshNode[]> {
  const nodes: TaskmeshNode[] = []
  for (let start = 0; start < opts.nodes; start += START_WAVE) {
    const wave = []
    for (let i = start; i < Math.min(opts.nodes, start + START_WAVE); i++) {
      wave.push(
        TaskmeshNode.create({
          slots: Array.isArray(opts.slots) ? opts.slots[i] : opts.slots,
          transport: opts.transport ?? 'tcp',
          pool: opts.pool,
          beaconIntervalMs: 1000,
          ...opts.nodeOptions?.(i),
        }),
      )
    }
    nodes.push(...(await Promise.all(wave)))
  }
  await connectAll(nodes)
  await waitForMesh(nodes)
  return nodes
}

/** Dials every pair once (the lower index dials the higher). */
export async function connectAll(nodes: TaskmeshNode[]): Promise<void> {
  for (let i = 0; i < nodes.length; i++) {
    await Promise.all(
      nodes
        .slice(i + 1)
        .map((other) =>
          nodes[i].libp2p.dial(multiaddr(other.multiaddrs[0]), { signal: AbortSignal.timeout(20_000) }),
        ),
    )
  }
}

/** Resolves when every node knows every other node's beacon (or rejects after `timeoutMs`). */
export async function waitForMesh(nodes: TaskmeshNode[], timeoutMs = 30_000): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs)
  await Promise.all(nodes.map((n) => n.waitForPeers(nodes.length - 1, signal)))
}

/** Stops every node (in parallel). */
export async function stopMesh(nodes: TaskmeshNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop()))
}

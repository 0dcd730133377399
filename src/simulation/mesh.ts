import { setMaxListeners } from 'node:events'
import { multiaddr } from '@multiformats/multiaddr'
import type { WorkerPool } from '../executor/worker-pool.ts'
import type { TaskmeshNodeOptions } from '../node/options.ts'
import { TaskmeshNode } from '../node/taskmesh-node.ts'
import { skipContactPings } from '../node/wire/dht-contacts.ts'
import { eachLimited } from '../util/each-limited.ts'
import { seededRandom } from './random.ts'
import { DEFAULT_MESH_DEGREE, formationTargets, type Link, meshTopology } from './topology.ts'

/** Options of {@link startLocalMesh}. */
export interface LocalMeshOptions {
  nodes: number
  /** Slots per node: one number for all, or one per node. */
  slots: number | number[]
  transport?: 'tcp' | 'memory'
  pool?: WorkerPool
  /** Extra options per node (index → options). */
  nodeOptions?: (index: number) => Partial<TaskmeshNodeOptions>
  /** Connections each node plans (see `meshTopology`); a smaller mesh is complete. @defaultValue 8 */
  degree?: number
  /** Seed of the chords' choice. @defaultValue 1 */
  seed?: number
  /** Called as nodes start and as the mesh forms. */
  onProgress?: (event: MeshProgress) => void
}

/** How far a mesh got: nodes started, then nodes that heard all their planned neighbours. */
export type MeshProgress = { phase: 'start' | 'form'; done: number; total: number }

/** Nodes started waves at a time, so loopback dials do not time out. */
const START_WAVE = 10
/**
 * Dials in flight at once while the mesh forms; each finished dial starts the next. Forming costs
 * CPU, not waiting: a 100-node mesh spent 20 CPU-s in its dials with 50 in flight and 37 with 10
 * in waves (each wave waited for its slowest dial while the nodes' beacons and gossip ran on).
 */
const DIAL_CONCURRENCY = 50
/**
 * Longest a mesh may take to form once its nodes run, and one planned dial, ms. Generous: forming
 * a 100-node mesh costs tens of CPU-seconds, and on a shared machine this process gets a fraction
 * of a core (dials of 20 s timed out under a load average of 12 on 2 cores).
 */
const FORM_TIMEOUT_MS = 180_000
const DIAL_TIMEOUT_MS = 120_000
/**
 * Connections each node of a mesh beyond a complete one may keep (a node's default is 32). Every
 * node's kad-dht connects to the peers its own lookups ask (its self-query and table refresh)
 * while the planned links are dialled; a node at its limit refuses inbound connections, planned
 * ones included, and at 100 nodes in one process that failed one formation in four once lookups
 * ran at full speed (up to 30 connections a node, 15 on average, 640 dials by lookups). The
 * planned links get room here; each node still keeps what its kad-dht dialled.
 */
export const SIMULATION_MAX_CONNECTIONS = 64

/**
 * Starts `nodes` real taskmesh nodes in this process on loopback (TCP, or the in-memory
 * transport), links them as `meshTopology` plans (every pair for a small mesh; a ring with random
 * chords, a bounded degree, for a large one) and resolves once each node has heard the capacity
 * beacons of as many peers as it was linked to (`formationTargets`) — the mesh is then ready to
 * steal.
 */
export async function startLocalMesh(opts: LocalMeshOptions): Promise<TaskmeshNode[]> {
  const nodes: TaskmeshNode[] = []
  const bounded = opts.nodes > (opts.degree ?? DEFAULT_MESH_DEGREE) + 1
  try {
    for (let start = 0; start < opts.nodes; start += START_WAVE) {
      const wave = []
      for (let i = start; i < Math.min(opts.nodes, start + START_WAVE); i++) {
        wave.push(
          TaskmeshNode.create({
            slots: Array.isArray(opts.slots) ? opts.slots[i] : opts.slots,
            transport: opts.transport ?? 'tcp',
            pool: opts.pool,
            beaconIntervalMs: 1000,
            ...(bounded ? { maxConnections: SIMULATION_MAX_CONNECTIONS } : {}),
            ...opts.nodeOptions?.(i),
          }),
        )
      }
      nodes.push(...(await Promise.all(wave)))
      opts.onProgress?.({ phase: 'start', done: nodes.length, total: opts.nodes })
    }
    // a large simulated mesh keeps its planned degree: kad-dht does not dial contacts to ping them
    if (bounded) {
      for (const n of nodes) skipContactPings(n.libp2p.services.dht)
    }
    const links = meshTopology(nodes.length, seededRandom(opts.seed ?? 1), { degree: opts.degree })
    await connectLinks(nodes, links)
    const want = formationTargets(nodes.length, links)
    let formed = 0
    const signal = AbortSignal.timeout(FORM_TIMEOUT_MS)
    setMaxListeners(Number.POSITIVE_INFINITY, signal)
    await Promise.all(
      nodes.map(async (n, i) => {
        await n.waitForPeers(want[i], signal)
        opts.onProgress?.({ phase: 'form', done: ++formed, total: nodes.length })
      }),
    )
    return nodes
  } catch (err) {
    await Promise.allSettled(nodes.map((n) => n.stop()))
    throw err
  }
}

/** Attempts of one planned dial before the mesh gives up. */
const DIAL_ATTEMPTS = 4

/**
 * Dials `addr` from `node`, again after a failure (up to `DIAL_ATTEMPTS` times): libp2p gives a
 * dial 10 s and an inbound upgrade 10 s, which a starved process (a shared machine's load
 * average of 20 on 2 cores) overran while 100 nodes formed.
 */
export async function dialWithRetry(node: TaskmeshNode, addr: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await node.libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
      return
    } catch (err) {
      if (attempt >= DIAL_ATTEMPTS) throw err
    }
  }
}

/** Dials every planned link (`from` dials `to`), in order, `DIAL_CONCURRENCY` in flight at once. */
export async function connectLinks(nodes: TaskmeshNode[], links: Link[]): Promise<void> {
  await eachLimited(links, DIAL_CONCURRENCY, ({ from, to }) =>
    dialWithRetry(nodes[from], nodes[to].multiaddrs[0]),
  )
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

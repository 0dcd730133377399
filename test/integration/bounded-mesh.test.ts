import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { DEFAULT_MAX_CONNECTIONS } from '../../src/node/wire/libp2p-factory.ts'
import { sleepSpec, stopAll, waitFor } from './helpers.ts'

const NODES = 20
/** Each node dials the next `RING` nodes on a ring and one chord: degree about 2 × (RING + 1). */
const RING = 2
const CHORD = 7
/** More than the 19 one-slot thieves take at once: the owner still queues some when it dies. */
const TASKS = 100
/**
 * Each task's run: the 19 thieves drain the owner's queue in about TASKS / 19 runs — long enough
 * that it still queues tasks once both custodians hold them, on a machine loaded by the whole
 * suite (at 400 ms a fresh-clone run found the queue empty by then).
 */
const TASK_MS = 800
const LEASE_TTL_MS = 2_000

/** Dials a ring with chords: connected, every node with a handful of connections. */
async function dialRing(nodes: TaskmeshNode[]): Promise<void> {
  const dials: Promise<unknown>[] = []
  for (let i = 0; i < nodes.length; i++) {
    const targets = new Set<number>([CHORD, ...Array.from({ length: RING }, (_, k) => k + 1)])
    for (const step of targets) {
      const other = nodes[(i + step) % nodes.length]
      dials.push(
        nodes[i].libp2p.dial(multiaddr(other.multiaddrs[0]), { signal: AbortSignal.timeout(10_000) }),
      )
    }
  }
  await Promise.all(dials)
}

describe('a mesh of bounded degree', () => {
  let nodes: TaskmeshNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('an owner and an executor holding its leases die together: the custodians adopt, every task completes', async () => {
    nodes = await Promise.all(
      Array.from({ length: NODES }, () =>
        TaskmeshNode.create({
          slots: 1,
          transport: 'memory',
          beaconIntervalMs: 500,
          leaseTtlMs: LEASE_TTL_MS,
        }),
      ),
    )
    await dialRing(nodes)
    const degrees = () => nodes.map((n) => n.libp2p.getConnections().length)
    // no node is connected to every other: peers are heard of through neighbours' hot lists
    expect(Math.max(...degrees())).toBeLessThan(NODES - 1)
    const [owner, ...others] = nodes
    await owner.waitForPeers(2 * (RING + 1), AbortSignal.timeout(20_000))

    // every node's own account of the runs it finished: which task, when, whether it succeeded
    const finished = new Map<string, Array<{ by: string; at: number; ok: boolean }>>()
    for (const n of nodes) {
      n.onTaskEvent((e) => {
        if (e.event !== 'finished') return
        const list = finished.get(e.taskId) ?? []
        list.push({ by: n.peerId, at: e.at, ok: e.detail?.status === 'succeeded' })
        finished.set(e.taskId, list)
      })
    }
    const handles = await owner.submitMany(Array.from({ length: TASKS }, (_, i) => sleepSpec(TASK_MS, i)))
    const ids = handles.map((h) => h.id)
    // both custodians hold the tasks (an owner that dies while a hold is in flight is the case of
    // custody-gap.test.ts: here the bounded mesh is under test)
    const byId = new Map(nodes.map((n) => [n.peerId, n]))
    const held = () => {
      const named = owner.status().custody.custodians
      return named.length === 2 && named.every((c) => (byId.get(c)?.status().custody.guarded ?? 0) > 0)
    }
    await waitFor(held, 20_000, 'the owner has no two custodians holding its tasks')
    const custodians = owner.status().custody.custodians
    // an executor that is not a custodian holds leases of the owner's tasks
    const thieves = () => others.filter((n) => n.status().leasedIn > 0 && !custodians.includes(n.peerId))
    await waitFor(
      () => thieves().length > 0 && owner.status().queued > 0,
      20_000,
      'no executor stole from the owner while it still queued tasks',
    )
    const executor = thieves()[0]
    // what the owner still queues has no holder but the custodians: someone must adopt it
    expect(owner.status().queued).toBeGreaterThan(0)
    // both crash: their libp2p halves stop, nothing is handed back
    await Promise.all([owner.libp2p.stop(), executor.libp2p.stop()])
    const dead = new Set([owner.peerId, executor.peerId])

    // the nodes the owner handed its open tasks to (its custodians, and any it replaced meanwhile)
    const guardians = others
      .filter((n) => n !== executor && n.status().custody.guarded > 0)
      .map((n) => n.peerId)
    expect(guardians.length).toBeGreaterThan(0)
    const crashedAt = Date.now()
    const live = others.filter((n) => n !== executor)
    // every task succeeds once somewhere; what was open at the crash is adopted by a custodian
    // (the records themselves are read where they land in the DHT tests; here the runs are counted)
    // (a crashed node's runs go on in this process, unheard of: they do not count after the crash)
    const counts = (f: { by: string; at: number; ok: boolean }) =>
      f.ok && (f.at <= crashedAt || !dead.has(f.by))
    const succeeded = () => ids.filter((id) => finished.get(id)?.some(counts)).length
    await waitFor(
      () => succeeded() === ids.length,
      200_000,
      () => `${succeeded()} of ${ids.length} succeeded`,
    )
    const adopters = live.filter((n) => n.status().counters.adopted > 0)
    expect(adopters.length).toBeGreaterThan(0)
    // only a node the owner handed the tasks to adopts them: one that guarded them at the crash,
    // or one it chose as its libp2p stopped (the crash is a libp2p stop: the node itself lives on,
    // sees its custodians' connections close and hands its tasks to the next closest it reaches)
    const handedTo = new Set([...guardians, ...owner.status().custody.custodians])
    for (const n of adopters) expect([...handedTo]).toContain(n.peerId)
    // thieves dial the victims they hear of; the connection manager bounds the degree
    expect(Math.max(...live.map((n) => n.libp2p.getConnections().length))).toBeLessThanOrEqual(
      DEFAULT_MAX_CONNECTIONS,
    )
  }, 260_000)
})

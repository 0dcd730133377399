import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BEACON_MS,
  type Daemon,
  eventually,
  meshKey,
  result,
  sleepTask,
  startDaemon,
  status,
} from '../../scripts/chaos/daemons.ts'
import { readStoredResult } from '../../src/node/results/fencing.ts'
import type { RecordReplicator } from '../../src/node/results/record-replicator.ts'
import { openNodeDatastore } from '../../src/node/results/value-log.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import {
  type ResultRecord,
  readVerifiedResultRecord,
  resultKey,
} from '../../src/protocol/records/result-record.ts'
import { connectAll } from '../../src/simulation/mesh.ts'
import { stopAll } from '../integration/helpers.ts'

/** Short leases: the frozen executor loses its lease quickly. */
const TTL_MS = 1_000
/** Longer than the lease: the frozen executor's attempt is overdue by the time it thaws. */
const TASK_MS = 1_500

let root: string
const daemons: Daemon[] = []
const nodes: TaskmeshNode[] = []

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'taskmesh-frozen-'))
})

afterAll(async () => {
  for (const d of daemons) d.process.signal('SIGCONT')
  await Promise.all(daemons.map((d) => d.process.kill()))
  await stopAll(nodes)
  if (root !== undefined) await rm(root, { recursive: true, force: true })
}, 30_000)

/** An in-process node of the daemons' private mesh. */
const node = async (opts: { labels?: string[] } = {}) =>
  TaskmeshNode.create({
    slots: 1,
    leaseTtlMs: TTL_MS,
    beaconIntervalMs: BEACON_MS,
    swarmKey: await meshKey(root),
    ...opts,
  })

/** The record in a node's own DHT store (what it serves to every peer that asks). */
async function storedAt(n: TaskmeshNode, id: string): Promise<ResultRecord | undefined> {
  const { replicator } = n as unknown as { replicator: RecordReplicator }
  const value = await replicator.readLocal(resultKey(id))
  return value === undefined ? undefined : readVerifiedResultRecord(value)
}

const fenced = (r: ResultRecord | undefined) =>
  r === undefined ? undefined : { executor: r.executor, epoch: r.epoch, status: r.status }

describe('promise 2: fencing against a frozen executor', () => {
  it('an executor stopped past its lease finishes late: its older-epoch result never wins, at any node', async () => {
    // owner A cannot run the task (it needs the gpu label): only thieves with the label can
    const a = await node()
    nodes.push(a)
    const x = await startDaemon(root, 'x', {
      slots: 1,
      labels: 'gpu',
      leaseTtlMs: TTL_MS,
      bootstrap: [a.multiaddrs[0]],
    })
    daemons.push(x)
    await a.waitForPeers(1)

    const [handle] = await a.submitMany([sleepTask(TASK_MS, 'done', { resources: { labels: ['gpu'] } })])
    const id = handle.id
    await eventually(async () => ((await status(x)).running === 1 ? true : undefined), 10_000, 'X runs it')
    expect(a.status().leasedOut).toBe(1) // X holds the first lease: epoch 1

    // freeze X mid-run; a capable node B joins; A's lease on X runs out and B gets the task
    x.process.signal('SIGSTOP')
    const b = await node({ labels: ['gpu'] })
    nodes.push(b)
    await connectAll([a, b])
    const accepted = await a.waitResult(id, AbortSignal.timeout(15_000))
    expect(accepted).toMatchObject({ taskId: id, status: 'succeeded', executor: b.peerId })
    expect(accepted.epoch).toBeGreaterThan(1)
    expect(a.status().counters.leasesExpired + a.status().counters.executorsLost).toBeGreaterThanOrEqual(1)

    // thaw X: its attempt is overdue and ends at once; it publishes its epoch-1 result (stores it at
    // its closest peers, A among them) and reports it. Meanwhile, watch what A's and B's own DHT
    // stores hold, every few ms (no read in between that could repair them).
    const want = fenced(accepted)
    // first, the accepted record is in A's and B's own stores (A keeps the completion's record, B
    // its own; waiters wake before the writes land)
    await eventually(
      async () => {
        const held = await Promise.all([a, b].map(async (n) => fenced(await storedAt(n, id))))
        return held.every((r) => JSON.stringify(r) === JSON.stringify(want)) ? true : undefined
      },
      10_000,
      'A and B store the accepted record',
    )
    const seen: unknown[] = []
    let watching = true
    const watcher = (async () => {
      while (watching) {
        for (const n of [a, b]) seen.push(fenced(await storedAt(n, id)))
        await new Promise((resolve) => setTimeout(resolve, 2))
      }
    })()
    x.process.signal('SIGCONT')
    await eventually(
      async () => ((await status(x)).counters.staleCompletions >= 1 ? true : undefined),
      10_000,
      'X reported its late completion and the owner called it stale',
    )
    await new Promise((resolve) => setTimeout(resolve, 500))
    watching = false
    await watcher
    expect(seen.length).toBeGreaterThan(10)
    expect(seen.filter((r) => JSON.stringify(r) !== JSON.stringify(want))).toEqual([])

    // every read at A and B, and what their own DHT stores hold, stays the accepted record
    for (let i = 0; i < 10; i++) {
      for (const n of [a, b]) {
        expect(fenced(await n.getResult(id, { skipCache: true }))).toEqual(want)
        expect(fenced(await storedAt(n, id))).toEqual(want)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    // X itself learns it lost (it reads the record again after the stale verdict)
    expect(
      fenced(
        await eventually(
          async () => {
            const r = await result(x, id)
            return r?.epoch === accepted.epoch ? r : undefined
          },
          10_000,
          'X serves the accepted record',
        ),
      ),
    ).toEqual(want)

    // a newcomer asking every replica (X's store included) picks the accepted record too
    const c = await node()
    nodes.push(c)
    await connectAll([c, a, b])
    await c.libp2p.dial(multiaddr(x.addr), { signal: AbortSignal.timeout(5_000) })
    await c.waitForPeers(3)
    expect(fenced(await c.getResult(id, { skipCache: true }))).toEqual(want)
    expect(fenced(await a.getResult(id, { skipCache: true }))).toEqual(want)

    // X's own store was corrected too: after a clean stop, its data dir holds the accepted record
    await x.process.kill()
    const store = await openNodeDatastore(x.dir)
    try {
      const value = await readStoredResult(store, resultKey(id))
      expect(fenced(value === undefined ? undefined : readVerifiedResultRecord(value))).toEqual(want)
    } finally {
      await store.close()
    }
  }, 45_000)
})

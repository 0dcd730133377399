import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AccountingSnapshot } from '../../../src/node/accounting/accounting.ts'
import { CountingDatastore } from '../../../src/node/accounting/counting-datastore.ts'
import { protocolName } from '../../../src/node/accounting/stream-metrics.ts'
import type { TaskmeshNode } from '../../../src/node/taskmesh-node.ts'
import {
  CONTESTED_TOPIC,
  RESULTS_TOPIC,
  STEAL_PROTOCOL,
  STEAL_PROTOCOL_1_1,
} from '../../../src/protocol/constants.ts'
import { startLocalMesh } from '../../../src/simulation/mesh.ts'
import { TextKey } from '../../../src/util/text-key.ts'
import { sleepSpec, stopAll, waitAll } from '../../integration/helpers.ts'

describe('CountingDatastore', () => {
  it('counts reads and writes per namespace and passes every call through', async () => {
    const inner = new MemoryDatastore()
    const ds = new CountingDatastore(inner)
    const record = new Key('/dht/record/abc')
    const peer = new Key('/peers/xyz')
    await ds.put(record, new Uint8Array(10))
    expect(await ds.has(record)).toBe(true)
    expect(await ds.get(record)).toEqual(new Uint8Array(10))
    await ds.put(peer, new Uint8Array(3))
    const batch = ds.batch()
    batch.put(new Key('/dht/record/def'), new Uint8Array(5))
    batch.delete(peer)
    await batch.commit()
    expect(ds.counts.records).toMatchObject({ has: 1, get: 1, put: 2, batches: 1, bytesWritten: 15 })
    expect(ds.counts.peers).toMatchObject({ put: 1, delete: 1, bytesWritten: 3 })
    expect(ds.counts.other).toMatchObject({ has: 0, get: 0, put: 0 })
    expect(await inner.has(new Key('/dht/record/def'))).toBe(true)
    expect(await inner.has(peer)).toBe(false)
  })

  it('files keys that keep their text by that text; a batch counts once per namespace', async () => {
    const ds = new CountingDatastore(new MemoryDatastore())
    const batch = ds.batch()
    batch.put(new TextKey('/dht/record/a'), new Uint8Array(4))
    batch.put(new TextKey('/dht/record/b'), new Uint8Array(6))
    batch.put(new TextKey('/peers/c'), new Uint8Array(1))
    batch.delete(new TextKey('/taskmesh/unsent/d'))
    batch.put(new TextKey('/dht/recordx'), new Uint8Array(2)) // not under /dht/record/
    expect(ds.counts.records.put).toBe(0) // counted once committed
    await batch.commit()
    expect(ds.counts.records).toMatchObject({ put: 2, batches: 1, bytesWritten: 10 })
    expect(ds.counts.peers).toMatchObject({ put: 1, batches: 1, bytesWritten: 1 })
    expect(ds.counts.other).toMatchObject({ put: 1, delete: 1, batches: 1, bytesWritten: 2 })
  })
})

describe('protocolName', () => {
  it.each([
    [STEAL_PROTOCOL, 'steal'],
    [STEAL_PROTOCOL_1_1, 'steal'],
    ['/ipfs/id/push/1.0.0', 'identify'],
    ['/meshsub/1.2.0', 'gossipsub'],
    ['/other/1.0.0', '/other/1.0.0'],
  ])('files %s under %s', (protocol, name) => {
    expect(protocolName(protocol)).toBe(name)
  })
})

describe('accounting in a mesh of 3 real nodes', () => {
  const TASKS = 40
  let dir: string
  let nodes: TaskmeshNode[] = []
  let owner: TaskmeshNode
  let before: AccountingSnapshot[]
  let after: AccountingSnapshot[]

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-accounting-'))
    // the owner has one slot: most of its queue is stolen by the others
    nodes = await startLocalMesh({
      nodes: 3,
      slots: [1, 4, 4],
      nodeOptions: (i) => ({ dataDir: join(dir, `n${i}`) }),
    })
    owner = nodes[0]
    // a write before a node's scan of its store ends reads the store first (once failed CI so)
    await Promise.all(nodes.map((n) => n.recordsIndexed()))
    before = nodes.map((n) => n.status().accounting)
    const handles = await owner.submitMany(Array.from({ length: TASKS }, (_, i) => sleepSpec(20, i)))
    await waitAll(
      owner,
      handles.map((h) => h.id),
    )
    await Promise.all(nodes.map((n) => n.flushResults()))
    after = nodes.map((n) => n.status().accounting)
  }, 60_000)

  afterAll(async () => {
    await stopAll(nodes)
    await rm(dir, { recursive: true, force: true })
  })

  const total = (pick: (a: AccountingSnapshot) => number) =>
    after.reduce((s, a, i) => s + pick(a) - pick(before[i]), 0)

  it("starts none of gossipsub's own metrics because a libp2p metrics component exists", () => {
    for (const n of nodes)
      expect((n.libp2p.services.pubsub as unknown as { metrics: unknown }).metrics).toBeNull()
  })

  it('counts one record signed per task, in fewer signatures than records', () => {
    expect(total((a) => a.signatures.recordsSigned)).toBeGreaterThanOrEqual(TASKS)
    expect(total((a) => a.signatures.recordBatchesSigned)).toBeGreaterThan(0)
    expect(total((a) => a.signatures.recordBatchesSigned)).toBeLessThanOrEqual(
      total((a) => a.signatures.recordsSigned),
    )
  })

  it("counts the owner's grants signed and verified elsewhere, and batches taken from their signers", () => {
    const stolen = nodes.slice(1).reduce((s, n) => s + n.status().counters.tasksStolen, 0)
    expect(stolen).toBeGreaterThan(0)
    const [o] = after
    expect(o.signatures.grantsSigned - before[0].signatures.grantsSigned).toBeGreaterThanOrEqual(stolen)
    expect(total((a) => a.signatures.grantsVerified)).toBeGreaterThan(0)
    // every copy came from its executor, on its own stream: taken on its word, none checked
    expect(total((a) => a.signatures.recordsFromSigner)).toBeGreaterThan(0)
    expect(total((a) => a.signatures.recordBatchesVerified)).toBe(0)
  })

  it('counts a datastore write per record at least, in batches, no read, and the journal writes of the owner', () => {
    expect(total((a) => a.datastore.records.put)).toBeGreaterThanOrEqual(TASKS)
    expect(total((a) => a.datastore.records.batches)).toBeGreaterThan(0)
    // fenced writes of records not stored yet read nothing (see StoredRecords)
    expect(total((a) => a.datastore.records.has + a.datastore.records.get)).toBe(0)
    expect(after[0].journal.writes - before[0].journal.writes).toBeGreaterThanOrEqual(2) // accept, done
    expect(after[0].journal.bytes - before[0].journal.bytes).toBeGreaterThan(TASKS * 50)
  })

  it('counts messages and bytes of the replicate and steal protocols, both ways', () => {
    for (const name of ['replicate', 'steal', 'beacon', 'custody']) {
      expect(
        total((a) => a.protocols[name]?.sends ?? 0),
        name,
      ).toBeGreaterThan(0)
      expect(
        total((a) => a.protocols[name]?.receives ?? 0),
        name,
      ).toBeGreaterThan(0)
      expect(
        total((a) => a.protocols[name]?.bytesIn ?? 0),
        name,
      ).toBeGreaterThan(0)
    }
  })

  it('counts gossip per topic (no notice with no one to hear it), and the wire carries what the protocols sent', () => {
    // nobody here waits for a task of another owner: every-record notices cost nothing
    expect(total((a) => a.topics[RESULTS_TOPIC].published)).toBe(0)
    expect(after.every((a) => a.topics[CONTESTED_TOPIC] !== undefined)).toBe(true)
    expect(total((a) => a.signatures.gossipSigned)).toBe(
      total((a) => Object.values(a.topics).reduce((s, t) => s + t.published, 0)),
    )
    for (const a of after) {
      const protocolBytes = Object.values(a.protocols).reduce((s, p) => s + p.bytesOut, 0)
      expect(protocolBytes).toBeGreaterThan(0)
      expect(a.connections.bytesOut).toBeGreaterThanOrEqual(protocolBytes)
    }
  })
})

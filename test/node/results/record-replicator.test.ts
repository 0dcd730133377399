import { Libp2pRecord } from '@libp2p/record'
import { toString as bytesToString, equals } from 'uint8arrays'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dhtRecordKey } from '../../../src/node/results/fencing.ts'
import { RecordReplicator } from '../../../src/node/results/record-replicator.ts'
import {
  DEFAULT_RECORD_COPIES,
  FRAME_BUDGET_BYTES,
  REPLICATE_PROTOCOL,
} from '../../../src/protocol/constants.ts'
import { resultKey, signResultRecord } from '../../../src/protocol/records/result-record.ts'
import { makeRecord, makeTask, OWNER } from '../../protocol/fixtures.ts'
import {
  closest,
  forge,
  holds,
  type MeshMember,
  NODES,
  signedRecord,
  startMember,
  stopMember,
  WAIT_MS,
  waitFor,
} from './replicator-mesh.ts'

describe('RecordReplicator in a mesh', () => {
  let members: MeshMember[] = []

  beforeAll(async () => {
    members = await Promise.all(Array.from({ length: NODES }, () => startMember()))
    for (let i = 0; i < members.length; i++) {
      await Promise.all(
        members.slice(i + 1).map((other) => members[i].libp2p.dial(other.libp2p.getMultiaddrs()[0])),
      )
    }
    await waitFor(
      () => members.every((m) => m.libp2p.services.dht.routingTable.size === NODES - 1),
      'every routing table holds every peer',
    )
  })

  afterAll(async () => {
    await Promise.all(members.map(stopMember))
  })

  it('stores locally and at exactly the closest replicas, where kad-dht lookups find it', async () => {
    const [a] = members
    const { record, key, value } = await signedRecord(a)

    expect(await a.replicator.store(key, value)).toBe(DEFAULT_RECORD_COPIES)

    // the local copy, where kad-dht keeps its own records
    const local = Libp2pRecord.deserialize(await a.datastore.get(dhtRecordKey(key)))
    expect(equals(local.key, key)).toBe(true)
    expect(equals(local.value, value)).toBe(true)

    // the copies: exactly the closest peers
    const peers = members.slice(1)
    const held = await Promise.all(peers.map((m) => holds(m, key)))
    const holding = peers.filter((_, i) => held[i]).map((m) => m.libp2p.peerId.toString())
    expect(holding).toHaveLength(DEFAULT_RECORD_COPIES)
    expect(new Set(holding)).toEqual(
      new Set(closest(peers, key, DEFAULT_RECORD_COPIES).map((p) => p.toString())),
    )

    // read back elsewhere: kad-dht's own get (with its lookup), and ResultStore.get past its cache
    for (const m of peers) {
      const values: Uint8Array[] = []
      for await (const event of m.libp2p.services.dht.get(key, { signal: AbortSignal.timeout(WAIT_MS) })) {
        if (event.name === 'VALUE') values.push(event.value)
      }
      expect(values.length).toBeGreaterThan(0)
      for (const v of values) expect(equals(v, value)).toBe(true)
      expect(await m.results.get(record.taskId, { skipCache: true })).toEqual(record)
    }
  })

  it('tells when a peer refuses a copy because it holds a record that wins (a later run)', async () => {
    const [a, b] = members
    const taskId = makeTask(5000).id
    const key = resultKey(taskId)
    const run = (m: MeshMember, epoch: number) => {
      const executor = m.libp2p.peerId.toString()
      const record = makeRecord({
        taskId,
        executor,
        owner: OWNER,
        epoch,
        attempts: [{ executor, epoch, startedAt: 30, finishedAt: 40 }],
      })
      return signResultRecord(record, m.privateKey)
    }
    // the later run's record is at b and its closest peers
    expect(await b.replicator.store(key, await run(b, 3))).toBe(DEFAULT_RECORD_COPIES)
    const superseded: string[] = []
    a.replicator.onSuperseded = (k) => superseded.push(bytesToString(k))
    try {
      // a missed it (frozen, say) and copies out its earlier run: the peers holding the later one refuse
      const acks = await a.replicator.replicate(key, await run(a, 1))
      expect(acks).toBeLessThan(DEFAULT_RECORD_COPIES)
      expect(superseded.length).toBeGreaterThan(0)
      expect(new Set(superseded)).toEqual(new Set([bytesToString(key)]))
    } finally {
      a.replicator.onSuperseded = undefined
    }
  })

  it('sends many records in batches on the same streams', async () => {
    const [, b] = members
    const records = await Promise.all(Array.from({ length: 60 }, () => signedRecord(b)))
    const acks = await Promise.all(records.map(({ key, value }) => b.replicator.store(key, value)))
    expect(acks).toEqual(records.map(() => DEFAULT_RECORD_COPIES))
    for (const { key } of records) {
      const held = await Promise.all(members.map((m) => holds(m, key)))
      expect(held.filter(Boolean)).toHaveLength(DEFAULT_RECORD_COPIES + 1)
    }
  })

  it('records bound for a peer beyond several frames of budget all land: split, none lost', async () => {
    const [, , c] = members
    const executor = c.libp2p.peerId.toString()
    const records = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const record = makeRecord({
          taskId: makeTask(900_000 + i).id,
          executor,
          owner: OWNER,
          output: `${i}`.padEnd(8_000, 'x'),
          attempts: [{ executor, epoch: 2, startedAt: 30, finishedAt: 40 }],
        })
        return { key: resultKey(record.taskId), value: await signResultRecord(record, c.privateKey) }
      }),
    )
    // all stored in one replicate window: each peer's share is several frames' worth
    const bytes = records.reduce((sum, { value }) => sum + value.byteLength, 0)
    expect(bytes).toBeGreaterThan(3 * FRAME_BUDGET_BYTES)
    const acks = await Promise.all(records.map(({ key, value }) => c.replicator.store(key, value)))
    expect(acks).toEqual(records.map(() => DEFAULT_RECORD_COPIES))
    for (const { key } of records) {
      const held = await Promise.all(members.map((m) => holds(m, key)))
      expect(held.filter(Boolean)).toHaveLength(DEFAULT_RECORD_COPIES + 1)
    }
  })

  it('a record from its own executor is taken on its word: its peers check no signature', async () => {
    const [a] = members
    const peers = members.slice(1)
    const counts = () => peers.map((m) => ({ ...m.roots.counts }))
    const before = counts()
    // signed over nothing: the stream (Noise) vouches that the executor sent it
    const own = await signedRecord(a)
    expect(await a.replicator.store(own.key, forge(own.value))).toBe(DEFAULT_RECORD_COPIES)
    const after = counts()
    expect(after.map((c, i) => c.recordBatchesVerified - before[i].recordBatchesVerified)).toEqual(
      peers.map(() => 0),
    )
    const taken = after.map((c, i) => c.recordsFromSigner - before[i].recordsFromSigner)
    expect(taken.reduce((sum, n) => sum + n, 0)).toBe(DEFAULT_RECORD_COPIES)
  })

  it('a forged record is refused by every peer, and the next valid record still lands', async () => {
    const [a, , c] = members
    const first = await signedRecord(a)
    expect(await a.replicator.store(first.key, first.value)).toBe(DEFAULT_RECORD_COPIES)

    // passed on by a node that did not sign it: every receiver checks the signature
    const forged = await signedRecord(c)
    const bad = forge(forged.value)
    expect(await a.replicator.store(forged.key, bad)).toBe(0)
    const peers = members.slice(1)
    expect(await Promise.all(peers.map((m) => holds(m, forged.key)))).toEqual(peers.map(() => false))

    // the next record goes to the same peers, on fresh streams (the peers aborted the old ones)
    const sameReplicas = (key: Uint8Array) =>
      closest(peers, key, DEFAULT_RECORD_COPIES).join() ===
      closest(peers, forged.key, DEFAULT_RECORD_COPIES).join()
    let next = await signedRecord(a)
    while (!sameReplicas(next.key)) next = await signedRecord(a)
    expect(await a.replicator.store(next.key, next.value)).toBe(DEFAULT_RECORD_COPIES)
    const held = await Promise.all(peers.map((m) => holds(m, next.key)))
    expect(held.filter(Boolean)).toHaveLength(DEFAULT_RECORD_COPIES)
  })

  it('a forged record among many in flight is refused alone; its frame-mates land', async () => {
    const [, b, c] = members
    const forgedAt = 23
    // the forged one signed by another node, as if b passed it on
    const records = await Promise.all(
      Array.from({ length: 40 }, (_, i) => signedRecord(i === forgedAt ? c : b)),
    )
    const values = records.map(({ value }, i) => (i === forgedAt ? forge(value) : value))
    const acks = await Promise.all(records.map(({ key }, i) => b.replicator.store(key, values[i])))
    expect(acks).toEqual(records.map((_, i) => (i === forgedAt ? 0 : DEFAULT_RECORD_COPIES)))
    const peers = members.filter((m) => m !== b)
    for (const [i, { key }] of records.entries()) {
      const held = await Promise.all(peers.map((m) => holds(m, key)))
      expect(held.filter(Boolean)).toHaveLength(i === forgedAt ? 0 : DEFAULT_RECORD_COPIES)
    }
  })

  it('replaces streams the peers closed', async () => {
    const [a] = members
    const peers = members.slice(1)
    const first = await signedRecord(a)
    expect(await a.replicator.store(first.key, first.value)).toBe(DEFAULT_RECORD_COPIES)
    // every peer drops its inbound replicate streams from A (as a server does once they idle)
    for (const m of peers) {
      for (const conn of m.libp2p.getConnections(a.libp2p.peerId)) {
        for (const stream of conn.streams) {
          if (stream.protocol === REPLICATE_PROTOCOL && stream.direction === 'inbound') {
            stream.abort(new Error('closed by the test'))
          }
        }
      }
    }
    const next = await signedRecord(a)
    expect(await a.replicator.store(next.key, next.value)).toBe(DEFAULT_RECORD_COPIES)
  })

  it('sends no copy to a peer the record reached otherwise (an owner, with the completion), and counts it', async () => {
    const [a] = members
    const { key, value } = await signedRecord(a)
    const peers = members.slice(1)
    const [owner] = closest(peers, key, DEFAULT_RECORD_COPIES)
    expect(await a.replicator.replicate(key, value, undefined, owner.toString())).toBe(DEFAULT_RECORD_COPIES)
    const held = await Promise.all(peers.map((m) => holds(m, key)))
    expect(held.filter(Boolean)).toHaveLength(DEFAULT_RECORD_COPIES - 1)
    expect(held[peers.findIndex((m) => m.libp2p.peerId.equals(owner))]).toBe(false)
  })

  it('counts every peer serving the protocol when asked for more replicas than there are', async () => {
    const [, , c] = members
    const replicator = new RecordReplicator({ libp2p: c.libp2p, datastore: c.datastore, replicas: 10 })
    try {
      const { key, value } = await signedRecord(c)
      expect(await replicator.store(key, value)).toBe(NODES - 1)
    } finally {
      await replicator.stop()
    }
  })

  it('peers not serving the protocol get no copy', async () => {
    const [, , , d] = members
    const replicator = new RecordReplicator({
      libp2p: d.libp2p,
      datastore: d.datastore,
      protocol: '/taskmesh/replicate/0.0.0-nobody',
    })
    try {
      const { key, value } = await signedRecord(d)
      expect(await replicator.store(key, value)).toBe(0)
      expect(await holds(d, key)).toBe(true)
    } finally {
      await replicator.stop()
    }
  })

  it('stop rejects later stores and is safe twice', async () => {
    const [, , , , e] = members
    const replicator = new RecordReplicator({ libp2p: e.libp2p, datastore: e.datastore })
    const { key, value } = await signedRecord(e)
    expect(await replicator.store(key, value)).toBe(DEFAULT_RECORD_COPIES)
    await replicator.stop()
    await replicator.stop()
    await expect(replicator.store(key, value)).rejects.toThrow(/stopped/)
  })

  it('gives up when the signal has already aborted', async () => {
    const [a] = members
    const { key, value } = await signedRecord(a)
    await expect(a.replicator.store(key, value, AbortSignal.abort(new Error('too late')))).rejects.toThrow(
      'too late',
    )
  })
})

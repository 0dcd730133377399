import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper, type SingleKadDHT } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { Libp2pRecord } from '@libp2p/record'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryDatastore } from 'datastore-core'
import type { Datastore } from 'interface-datastore'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dhtRecordKey, readStoredResult } from '../../src/node/results/fencing.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { DHT_PROTOCOL, MAX_RECORD_BYTES, RESULT_KEY_PREFIX } from '../../src/protocol/constants.ts'
import {
  batchSigningPayload,
  type ResultRecord,
  readVerifiedResultRecord,
  recordLeaf,
  resultKey,
} from '../../src/protocol/records/result-record.ts'
import { connectAll, waitForMesh } from '../../src/simulation/mesh.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { taskId } from '../../src/task/task-id.ts'
import { deadline, identity, sleepSpec, stopAll, waitFor } from './helpers.ts'

/** The node's DHT datastore (libp2p's components are not on its public type). */
function datastoreOf(node: TaskmeshNode): Datastore {
  const { components } = node.libp2p as unknown as { components?: { datastore?: Datastore } }
  if (components?.datastore === undefined) throw new Error('libp2p no longer exposes components.datastore')
  return components.datastore
}

/** A forger's signed value: any record, signed by `key` as a batch of one, no checks. */
async function forge(record: ResultRecord, key: PrivateKey): Promise<Uint8Array> {
  const signature = await key.sign(batchSigningPayload(recordLeaf(record)))
  return new TextEncoder().encode(
    JSON.stringify({ record, signature: Buffer.from(signature).toString('base64') }),
  )
}

type Forger = Libp2p<{ dht: SingleKadDHT }>

/**
 * A DHT peer that stores and serves anything under result keys (a validator that accepts all, a
 * datastore the test writes into): what a node that turned hostile would run.
 */
async function startForger(datastore: Datastore): Promise<Forger> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    datastore,
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        validators: { [RESULT_KEY_PREFIX]: async () => {} },
        selectors: { [RESULT_KEY_PREFIX]: () => 0 },
      }),
    },
  }) as unknown as Promise<Forger>
}

describe('forged result records on a real mesh', () => {
  let nodes: TaskmeshNode[] = []
  let forger: Forger | undefined
  const forgerStore = new MemoryDatastore()
  let thiefKey: PrivateKey
  let genuineX: ResultRecord
  let genuineZ: ResultRecord
  let valueX: Uint8Array
  const ids = { x: '', z: '', y: '' }

  beforeAll(async () => {
    // O owns X (only T, with label gpu, can run it: T steals it under a lease) and Z (only O, with
    // label local, can run it: never granted to anyone); W only watches
    thiefKey = await generateKeyPair('Ed25519')
    const o = await TaskmeshNode.create({ slots: 1, labels: ['local'] })
    const t = await TaskmeshNode.create({ slots: 1, labels: ['gpu'], privateKey: thiefKey })
    const w = await TaskmeshNode.create({ slots: 1 })
    nodes = [o, t, w]
    await connectAll(nodes)
    await waitForMesh(nodes)
    const [x, z] = await o.submitMany([
      sleepSpec(5, 'x', { resources: { labels: ['gpu'] } }),
      sleepSpec(5, 'z', { resources: { labels: ['local'] } }),
    ])
    genuineX = await x.result(deadline())
    genuineZ = await z.result(deadline())
    expect(genuineX).toMatchObject({ executor: t.peerId, owner: o.peerId, status: 'succeeded' })
    expect(genuineX.grant).toBeDefined()
    expect(genuineZ).toMatchObject({ executor: o.peerId, owner: o.peerId })
    await Promise.all(nodes.map((n) => n.flushResults()))
    ids.x = genuineX.taskId
    ids.z = genuineZ.taskId
    ids.y = taskId(parseTaskSpec({ type: 'echo' }), 'nobody', 'never-submitted')
    valueX = (await readStoredResult(datastoreOf(t), resultKey(ids.x)))!
    expect(readVerifiedResultRecord(valueX)).toEqual(genuineX)

    const f = await startForger(forgerStore)
    forger = f
    for (const n of nodes) await f.dial(multiaddr(n.multiaddrs[0]), { signal: AbortSignal.timeout(10_000) })
    await waitFor(
      () =>
        f.services.dht.routingTable.size === nodes.length &&
        nodes.every((n) => n.libp2p.services.dht.routingTable.size === nodes.length),
      10_000,
      'routing tables did not fill',
    )
  })

  afterAll(async () => {
    await stopAll([forger, ...nodes])
  })

  /** The forgeries, each under the key it is put at. T (a real member, holding X's lease) forges them. */
  async function forgeries(): Promise<Array<{ name: string; task: keyof typeof ids; value: Uint8Array }>> {
    const signed = JSON.parse(new TextDecoder().decode(valueX)) as { record: ResultRecord; signature: string }
    const t = nodes[1].peerId
    return [
      {
        name: 'a tampered output under the executor’s signature',
        task: 'x',
        value: new TextEncoder().encode(
          JSON.stringify({ ...signed, record: { ...signed.record, output: 'forged' } }),
        ),
      },
      {
        name: 'the thief raising its own epoch (signed by it, its old grant kept)',
        task: 'x',
        value: await forge({ ...genuineX, epoch: genuineX.epoch + 1, output: 'forged' }, thiefKey),
      },
      {
        name: 'the thief signing a task it was never granted',
        task: 'z',
        value: await forge({ ...genuineZ, executor: t, epoch: 99, grant: genuineX.grant }, thiefKey),
      },
      {
        name: 'an oversized value',
        task: 'y',
        value: await forge({ ...genuineX, taskId: ids.y, output: 'o'.repeat(MAX_RECORD_BYTES) }, thiefKey),
      },
      { name: 'a genuine record under another task’s key', task: 'z', value: valueX },
    ]
  }

  it('every node refuses each forgery put to it (PUT_VALUE), and keeps what it held', async () => {
    const f = forger!
    const before = await Promise.all(
      nodes.map(async (n) =>
        Promise.all(Object.values(ids).map((id) => readStoredResult(datastoreOf(n), resultKey(id)))),
      ),
    )
    expect(
      before.every((held) => held[0] !== undefined && held[1] !== undefined && held[2] === undefined),
    ).toBe(true)
    for (const { name, task, value } of await forgeries()) {
      const stored: string[] = []
      const refused: string[] = []
      for await (const event of f.services.dht.put(resultKey(ids[task]), value, { signal: deadline() })) {
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE')
          stored.push(event.from.toString())
        if (event.name === 'QUERY_ERROR') refused.push(event.from.toString())
      }
      expect(stored, `${name}: a node stored it`).toEqual([])
      expect(refused.sort(), `${name}: not refused by every node`).toEqual(nodes.map((n) => n.peerId).sort())
    }
    const after = await Promise.all(
      nodes.map(async (n) =>
        Promise.all(Object.values(ids).map((id) => readStoredResult(datastoreOf(n), resultKey(id)))),
      ),
    )
    expect(after).toEqual(before)
  })

  it('every node refuses each forgery a peer serves to its DHT get, and reads the genuine record', async () => {
    const f = forger!
    const plant = (task: keyof typeof ids, value: Uint8Array) =>
      forgerStore.put(
        dhtRecordKey(resultKey(ids[task])),
        new Libp2pRecord(resultKey(ids[task]), value, new Date()).serialize(),
      )
    const expected = { x: identity(genuineX), z: identity(genuineZ), y: undefined }
    for (const { name, task, value } of await forgeries()) {
      for (const n of nodes) {
        await plant(task, value)
        const served: string[] = []
        const discarded: string[] = []
        for await (const event of n.libp2p.services.dht.get(resultKey(ids[task]), { signal: deadline() })) {
          if (event.name === 'VALUE') served.push(event.from.toString())
          if (event.name === 'QUERY_ERROR' && /invalid record/.test(event.error.message))
            discarded.push(event.from.toString())
        }
        expect(discarded, `${name}: ${n.peerId} took the forger's value`).toContain(f.peerId.toString())
        expect(served, `${name}: ${n.peerId}`).not.toContain(f.peerId.toString())
        await plant(task, value) // the get above sent the forger a correction
        const read = await n.getResult(ids[task], { skipCache: true, signal: deadline() })
        expect(read === undefined ? undefined : identity(read), `${name}: ${n.peerId} read`).toEqual(
          expected[task],
        )
      }
    }
  })
})

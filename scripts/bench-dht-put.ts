/**
 * Compares the cost of storing result records with kad-dht's `put` (iterative lookup, then one
 * PUT_VALUE per closest peer on new streams) and with `RecordReplicator` (local copy, then batched
 * `store` frames of the replicate protocol to the closest connected peers on session streams), in
 * an 8-node in-process TCP mesh. Records are signed in batches of 64, as executors sign them.
 *
 * Run: npx tsx scripts/bench-dht-put.ts [records=500] [nodes=8]
 * CPU is the whole process's (every node's side of the work), per stored record.
 */
import '../src/polyfill.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryDatastore } from 'datastore-core'
import { RecordReplicator } from '../src/node/results/record-replicator.ts'
import { DEFAULT_PUT_CONCURRENCY } from '../src/node/results/replica-puts.ts'
import { createMeshLibp2p, type MeshLibp2p } from '../src/node/wire/libp2p-factory.ts'
import { type ResultRecord, resultKey, signResultBatch } from '../src/protocol/records/result-record.ts'
import { parseTaskSpec } from '../src/task/spec.ts'
import { taskId } from '../src/task/task-id.ts'

const RECORDS = Number(process.argv[2] ?? 500)
const NODES = Number(process.argv[3] ?? 8)
/** Records stored by each method before measuring (connections, streams, JIT). */
const WARM_UP = 20
/** Longest the mesh may take to form, in ms. */
const MESH_TIMEOUT_MS = 30_000

interface Member {
  libp2p: MeshLibp2p
  datastore: MemoryDatastore
  privateKey: PrivateKey
  replicator: RecordReplicator
}

interface Signed {
  key: Uint8Array
  value: Uint8Array
}

async function startMesh(): Promise<Member[]> {
  const members = await Promise.all(
    Array.from({ length: NODES }, async () => {
      const privateKey = await generateKeyPair('Ed25519')
      const datastore = new MemoryDatastore()
      const libp2p = await createMeshLibp2p({ privateKey, datastore })
      await libp2p.start()
      const replicator = new RecordReplicator({ libp2p, datastore })
      await replicator.start()
      return { libp2p, datastore, privateKey, replicator }
    }),
  )
  for (let i = 0; i < members.length; i++) {
    await Promise.all(members.slice(i + 1).map((m) => members[i].libp2p.dial(m.libp2p.getMultiaddrs()[0])))
  }
  const deadline = Date.now() + MESH_TIMEOUT_MS
  while (!members.every((m) => m.libp2p.services.dht.routingTable.size === NODES - 1)) {
    if (Date.now() > deadline) throw new Error('the DHT routing tables did not fill up')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return members
}

/** `count` signed result records executed by `privateKey`'s peer, signed 64 to a batch (signing is not measured). */
function signRecords(privateKey: PrivateKey, count: number, tag: string): Signed[] {
  const executor = peerIdFromPrivateKey(privateKey).toString()
  const spec = parseTaskSpec({ type: 'echo', input: null })
  const records: ResultRecord[] = Array.from({ length: count }, (_, i) => {
    const now = Date.now()
    return {
      v: 1 as const,
      taskId: taskId(spec, 'bench', `${tag}-${i}`),
      status: 'succeeded' as const,
      output: i,
      executor,
      owner: executor,
      epoch: 0,
      attempts: [{ executor, epoch: 0, startedAt: now, finishedAt: now }],
      submittedAt: now,
      startedAt: now,
      finishedAt: now,
    }
  })
  const signed: Signed[] = []
  for (let i = 0; i < records.length; i += 64) {
    const batch = records.slice(i, i + 64)
    const values = signResultBatch(batch, privateKey)
    batch.forEach((r, j) => {
      signed.push({ key: resultKey(r.taskId), value: values[j] })
    })
  }
  return signed
}

/** Runs `store` over every record, `DEFAULT_PUT_CONCURRENCY` at a time (as ResultStore does). */
async function storeAll(records: Signed[], store: (r: Signed) => Promise<number>): Promise<number> {
  let next = 0
  let acks = 0
  const worker = async () => {
    while (next < records.length) {
      const acked = await store(records[next++])
      acks += acked
    }
  }
  await Promise.all(Array.from({ length: DEFAULT_PUT_CONCURRENCY }, worker))
  return acks
}

async function dhtPut(libp2p: MeshLibp2p, { key, value }: Signed): Promise<number> {
  let acks = 0
  for await (const event of libp2p.services.dht.put(key, value, { signal: AbortSignal.timeout(30_000) })) {
    if (event.name === 'PEER_RESPONSE' && event.messageType === 'PUT_VALUE') acks++
  }
  return acks
}

interface Figures {
  msPerRecord: number
  cpuMsPerRecord: number
  acksPerRecord: number
}

async function measure(
  name: string,
  records: Signed[],
  store: (r: Signed) => Promise<number>,
): Promise<Figures> {
  await storeAll(records.slice(0, WARM_UP), store)
  const measured = records.slice(WARM_UP)
  const cpu = process.cpuUsage()
  const start = performance.now()
  const acks = await storeAll(measured, store)
  const ms = performance.now() - start
  const used = process.cpuUsage(cpu)
  const figures = {
    msPerRecord: ms / measured.length,
    cpuMsPerRecord: (used.user + used.system) / 1000 / measured.length,
    acksPerRecord: acks / measured.length,
  }
  console.log(
    `${name.padEnd(24)} ${figures.msPerRecord.toFixed(3)} ms/record  ` +
      `${figures.cpuMsPerRecord.toFixed(3)} CPU ms/record  ${figures.acksPerRecord.toFixed(2)} acks/record`,
  )
  return figures
}

const members = await startMesh()
const [a] = members
const replicator = a.replicator
try {
  console.log(`${NODES} nodes, ${RECORDS} records, ${DEFAULT_PUT_CONCURRENCY} in flight`)
  const put = await measure('dht.put', signRecords(a.privateKey, WARM_UP + RECORDS, 'put'), (r) =>
    dhtPut(a.libp2p, r),
  )
  const rep = await measure('replicator', signRecords(a.privateKey, WARM_UP + RECORDS, 'rep'), (r) =>
    replicator.store(r.key, r.value),
  )
  // as many copies as dht.put makes in a mesh this small (every peer), to compare the mechanisms alone
  const everyPeer = new RecordReplicator({ libp2p: a.libp2p, datastore: a.datastore, replicas: NODES - 1 })
  const all = await measure(
    `replicator, ${NODES - 1} replicas`,
    signRecords(a.privateKey, WARM_UP + RECORDS, 'all'),
    (r) => everyPeer.store(r.key, r.value),
  )
  await everyPeer.stop()
  const ratio = (f: Figures) =>
    `${(put.msPerRecord / f.msPerRecord).toFixed(1)}x wall, ${(put.cpuMsPerRecord / f.cpuMsPerRecord).toFixed(1)}x CPU`
  console.log(`ratio dht.put / replicator: ${ratio(rep)}`)
  console.log(`ratio dht.put / replicator with ${NODES - 1} replicas: ${ratio(all)}`)
} finally {
  await Promise.all(members.map((m) => m.replicator.stop()))
  await Promise.all(members.map((m) => m.libp2p.stop()))
}

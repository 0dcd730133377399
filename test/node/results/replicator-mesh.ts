/** A mesh of libp2p nodes, each with its datastore, record replicator and result store. */
import { createHash } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { MemoryDatastore } from 'datastore-core'
import { toString as bytesToString, compare, fromString } from 'uint8arrays'
import { dhtRecordKey } from '../../../src/node/results/fencing.ts'
import { RecordReplicator } from '../../../src/node/results/record-replicator.ts'
import { RecordSigner } from '../../../src/node/results/record-signer.ts'
import { ResultStore } from '../../../src/node/results/result-store.ts'
import { createMeshLibp2p, type MeshLibp2p } from '../../../src/node/wire/libp2p-factory.ts'
import {
  type ResultRecord,
  resultKey,
  signResultRecord,
} from '../../../src/protocol/records/result-record.ts'
import { VerifiedRoots } from '../../../src/protocol/records/verified-roots.ts'
import { makeRecord, makeTask, OWNER } from '../../protocol/fixtures.ts'

export const NODES = 5
export const WAIT_MS = 20_000

export interface MeshMember {
  libp2p: MeshLibp2p
  datastore: MemoryDatastore
  privateKey: PrivateKey
  replicator: RecordReplicator
  results: ResultStore
  /** The batch roots the member's replicator and result store checked (and its counts). */
  roots: VerifiedRoots
}

export async function startMember(): Promise<MeshMember> {
  const privateKey = await generateKeyPair('Ed25519')
  const datastore = new MemoryDatastore()
  const libp2p = await createMeshLibp2p({ privateKey, datastore })
  await libp2p.start()
  const roots = new VerifiedRoots()
  const replicator = new RecordReplicator({ libp2p, datastore, roots })
  await replicator.start()
  const results = new ResultStore({
    dht: libp2p.services.dht,
    replicator,
    signer: new RecordSigner(privateKey),
    roots,
  })
  return { libp2p, datastore, privateKey, replicator, results, roots }
}

export async function stopMember(m: MeshMember): Promise<void> {
  m.results.close()
  await m.replicator.stop()
  await m.libp2p.stop()
}

export async function waitFor(predicate: () => boolean, message: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`waitFor: ${message}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

let seq = 0

/** A fresh result record executed (and signed) by `m`, and its signed value. */
export async function signedRecord(
  m: MeshMember,
): Promise<{ record: ResultRecord; key: Uint8Array; value: Uint8Array }> {
  const executor = m.libp2p.peerId.toString()
  const record = makeRecord({
    taskId: makeTask(1000 + seq++).id,
    executor,
    owner: OWNER,
    attempts: [{ executor, epoch: 2, startedAt: 30, finishedAt: 40 }],
  })
  return { record, key: resultKey(record.taskId), value: await signResultRecord(record, m.privateKey) }
}

/** `value` with one character of its base64 signature changed: well-formed, but the signature fails. */
export function forge(value: Uint8Array): Uint8Array {
  const text = bytesToString(value)
  const at = text.indexOf('"signature":"') + '"signature":"'.length + 4
  const swapped = text[at] === 'A' ? 'B' : 'A'
  return fromString(text.slice(0, at) + swapped + text.slice(at + 1))
}

export async function holds(m: MeshMember, key: Uint8Array): Promise<boolean> {
  return m.datastore.has(dhtRecordKey(key))
}

/** The `n` peers among `members` closest to `key` by Kademlia distance (computed independently). */
export function closest(members: MeshMember[], key: Uint8Array, n: number): PeerId[] {
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest()
  const target = sha(key)
  const distance = (p: PeerId) => sha(p.toMultihash().bytes).map((b, i) => b ^ target[i])
  return members
    .map((m) => m.libp2p.peerId)
    .sort((a, b) => compare(distance(a), distance(b)))
    .slice(0, n)
}

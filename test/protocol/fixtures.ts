import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { Message } from '@libp2p/gossipsub'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Beacon, ResultNotice, StealRequest } from '../../src/protocol/messages.ts'
import type { ResultRecord } from '../../src/protocol/result-record.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import type { Task } from '../../src/task/task.ts'
import { taskId } from '../../src/task/task-id.ts'

/** A deterministic Ed25519 key from a one-byte seed. */
export async function keyFromSeed(seed: number): Promise<Ed25519PrivateKey> {
  return generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(seed))
}

export const ownerKey = await keyFromSeed(1)
export const executorKey = await keyFromSeed(2)
export const strangerKey = await keyFromSeed(3)
export const OWNER = peerIdFromPrivateKey(ownerKey).toString()
export const EXECUTOR = peerIdFromPrivateKey(executorKey).toString()
export const STRANGER = peerIdFromPrivateKey(strangerKey).toString()

/** A valid task owned by `owner`, its spec with every default filled. */
export function makeTask(n = 0, owner = OWNER): Task {
  const spec = parseTaskSpec({ type: 'echo', input: { n }, resources: { labels: ['cpu'] } })
  const nonce = `nonce-${n}`
  return {
    id: taskId(spec, 'client-a', nonce),
    spec,
    submitter: 'client-a',
    nonce,
    owner,
    submittedAt: 1_700_000_000_000 + n,
  }
}

export function makeBeacon(): Beacon {
  return {
    v: 1,
    seq: 7,
    slots: 4,
    running: 2,
    queued: 10,
    queuedWorkMs: 12_500.5,
    speed: 1.25,
    types: ['echo', 'sleep'],
    labels: ['gpu'],
    memoryMb: 2048,
    expectedWaitMs: 3125,
    sentAt: 1_700_000_000_000,
  }
}

export function makeRecord(overrides: Partial<ResultRecord> = {}): ResultRecord {
  return {
    v: 1,
    taskId: makeTask().id,
    status: 'succeeded',
    output: { sum: 3, list: [1, 'two', null, true] },
    executor: EXECUTOR,
    owner: OWNER,
    epoch: 2,
    attempts: [
      { executor: OWNER, epoch: 1, startedAt: 10, finishedAt: 20, error: 'worker died' },
      { executor: EXECUTOR, epoch: 2, startedAt: 30, finishedAt: 40 },
    ],
    submittedAt: 5,
    startedAt: 30,
    finishedAt: 40,
    ...overrides,
  }
}

export function makeNotice(overrides: Partial<ResultNotice> = {}): ResultNotice {
  return { v: 1, taskId: makeTask().id, status: 'succeeded', executor: EXECUTOR, epoch: 2, ...overrides }
}

export function makeStealRequest(): StealRequest {
  return {
    type: 'steal',
    requestId: 'r1',
    max: 4,
    offer: { types: ['echo'], labels: [], slots: 2, memoryMb: 1024 },
    queued: 0,
    queuedWorkMs: 0,
    speed: 1,
    freeSlots: 2,
  }
}

/** UTF-8 JSON bytes of a value. */
export function bytesOf(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value))
}

/** A peer that relays gossip (the validators' first argument). */
export const relay = peerIdFromPrivateKey(strangerKey)

/** A gossip message as gossipsub hands it to a validator (its signature already checked). */
export function signedMessage(topic: string, data: Uint8Array, by: Ed25519PrivateKey = ownerKey): Message {
  return {
    type: 'signed',
    from: peerIdFromPrivateKey(by),
    topic,
    data,
    sequenceNumber: 1n,
    signature: new Uint8Array(64),
    key: by.publicKey,
  }
}

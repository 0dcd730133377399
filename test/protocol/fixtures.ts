import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { Message } from '@libp2p/gossipsub'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MAX_NOTICES_PER_MESSAGE } from '../../src/protocol/constants.ts'
import type {
  Beacon,
  CompleteReply,
  CompleteRequest,
  ResultNotice,
  StealRequest,
} from '../../src/protocol/messages/messages.ts'
import { GrantSigner } from '../../src/protocol/records/grant-proof.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
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

/** The owner's grant proof of a lease of task 0 to EXECUTOR under epoch 1 (as a grant carries it). */
export const LEASE_PROOF = new GrantSigner(ownerKey).sign(makeTask().id, EXECUTOR, 1)

/** Grant signers of the fixture peers, by peer id. */
const granters = new Map([
  [OWNER, new GrantSigner(ownerKey)],
  [EXECUTOR, new GrantSigner(executorKey)],
  [STRANGER, new GrantSigner(strangerKey)],
])

/**
 * A valid result record (task 0's, run by EXECUTOR for OWNER under epoch 2). When its executor is
 * not its owner and `overrides` names no `grant`, it carries the owner's grant proof for its task,
 * executor and epoch (when the owner is a fixture peer).
 */
export function makeRecord(overrides: Partial<ResultRecord> = {}): ResultRecord {
  const record = plainRecord(overrides)
  if ('grant' in overrides || record.executor === record.owner) return record
  const proof = granters.get(record.owner)?.sign(record.taskId, record.executor, record.epoch)
  return proof === undefined ? record : { ...record, grant: proof }
}

function plainRecord(overrides: Partial<ResultRecord>): ResultRecord {
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

/** The id of `makeTask(n)`, memoised: large batches name many tasks. */
const ids = new Map<number, string>()
export function idOf(n: number): string {
  let id = ids.get(n)
  if (id === undefined) {
    id = makeTask(n).id
    ids.set(n, id)
  }
  return id
}

/** One entry of a result notice. */
export type NoticeEntry = ResultNotice['results'][number]

/** The notice entry of task `n`'s result. */
export function makeNoticeEntry(n = 0, overrides: Partial<NoticeEntry> = {}): NoticeEntry {
  return { taskId: idOf(n), status: 'succeeded', epoch: 2, ...overrides }
}

/** A result notice listing `results` (by default task 0's). Its executor is whoever signs the message. */
export function makeNotice(results: NoticeEntry[] = [makeNoticeEntry()]): ResultNotice {
  return { v: 1, results }
}

/** A notice of `count` distinct results, every field at its longest: the largest notice there can be. */
export function makeLargestNotice(count = MAX_NOTICES_PER_MESSAGE): ResultNotice {
  return makeNotice(
    Array.from({ length: count }, (_, i) =>
      makeNoticeEntry(i, { status: 'succeeded', epoch: Number.MAX_SAFE_INTEGER }),
    ),
  )
}

/** One entry of a batched completion. */
export type Completion = CompleteRequest['completions'][number]

/** The completion of task `n` under epoch 2, without a record. */
export function makeCompletion(n = 0, overrides: Partial<Completion> = {}): Completion {
  return { taskId: idOf(n), epoch: 2, status: 'succeeded', ...overrides }
}

/** A batched completion report (by default task 0's). */
export function makeComplete(completions: Completion[] = [makeCompletion()]): CompleteRequest {
  return { type: 'complete', requestId: 'r1', completions }
}

/** The owner's verdicts on a batched completion. */
export function makeCompleted(
  outcomes: CompleteReply['outcomes'] = [{ taskId: idOf(0), outcome: 'accepted' }],
): CompleteReply {
  return { type: 'completed', requestId: 'r1', outcomes }
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

/** A custody `hold` frame carrying `tasks` (the owner's specs for its custodians). */
export function holdOf(tasks: unknown[]) {
  return { type: 'hold' as const, requestId: 'r', custodians: [{ peerId: OWNER, addrs: [] }], tasks }
}

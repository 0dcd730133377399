/** What the OwnerLedger tests share: tasks, keys, a ledger with its queue and events, signed records. */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { vi } from 'vitest'
import { createNodeCounters } from '../../../src/node/node-counters.ts'
import { OwnerLedger, type OwnerLedgerOptions } from '../../../src/node/owner/owner-ledger.ts'
import type { Admission } from '../../../src/node/results/result-store.ts'
import { type TaskEvent, TaskEvents } from '../../../src/node/story/task-events.ts'
import type { CompleteRequest, StealRequest } from '../../../src/protocol/messages/messages.ts'
import { GrantSigner } from '../../../src/protocol/records/grant-proof.ts'
import {
  openResultRecordSync,
  type ResultRecord,
  signResultRecord,
} from '../../../src/protocol/records/result-record.ts'
import { VerifiedRoots } from '../../../src/protocol/records/verified-roots.ts'
import { parseTaskSpec } from '../../../src/task/spec.ts'
import type { Task } from '../../../src/task/task.ts'
import { taskId } from '../../../src/task/task-id.ts'
import { plainQueue } from '../plain-queue.ts'

export const offer = { types: ['echo'], labels: [], slots: 4, memoryMb: 1024 }
/** The owner's key: it signs the grant proof of every lease. */
export const ownerKey = await generateKeyPair('Ed25519')
export const OWNER_ID = peerIdFromPrivateKey(ownerKey).toString()
export const grants = new GrantSigner(ownerKey)

export function task(id: string): Task {
  return {
    id,
    spec: parseTaskSpec({ type: 'echo', input: id }),
    submitter: 'me',
    nonce: id,
    owner: 'me',
    submittedAt: 0,
  }
}

/** A task with a real content id (signed records name it). */
export function realTask(name: string): Task {
  const spec = parseTaskSpec({ type: 'echo', input: name })
  return { ...task(name), id: taskId(spec, 'me', name), spec }
}

export function stealRequest(max: number): StealRequest {
  return {
    type: 'steal',
    requestId: 'r1',
    max,
    offer,
    queued: 0,
    queuedWorkMs: 0,
    speed: 1,
    freeSlots: 4,
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export function setup(leaseTtlMs = 10_000, extra: Partial<OwnerLedgerOptions> = {}) {
  const queue = plainQueue()
  const counters = createNodeCounters()
  const events = new TaskEvents()
  const told: TaskEvent[] = []
  events.on((e) => told.push(e))
  /** What the ledger told of, by event name. */
  const said = (event: string) => told.filter((e) => e.event === event)
  const keep = vi.fn(async (_r: ResultRecord, _v: Uint8Array) => {})
  const stored = new Map<string, () => void>()
  let rule: Admission = () => true
  const roots = new VerifiedRoots()
  const results = {
    keep,
    whenPublished: (id: string) => new Promise<void>((resolve) => stored.set(id, resolve)),
    admit: (r: Admission) => {
      rule = r
    },
    open: (value: Uint8Array, k?: Uint8Array, from?: string) => openResultRecordSync(value, k, roots, from),
  }
  const ledger = new OwnerLedger({
    self: OWNER_ID,
    queue,
    results,
    counters,
    leaseTtlMs,
    slots: 1,
    speed: 1,
    events,
    grants,
    ...extra,
  })
  return {
    queue,
    counters,
    ledger,
    said,
    keep,
    roots,
    admits: (r: ResultRecord) => rule(r),
    stored: (id: string) => stored.get(id)?.(),
  }
}

export function fakeJournal() {
  return {
    accept: vi.fn(async (_tasks: Task[]) => {}),
    done: vi.fn(async (_ids: string[]) => {}),
    replay: vi.fn(async () => [] as Task[]),
    flush: vi.fn(async () => {}),
    attempt: vi.fn(async (_id: string, _attempt: unknown) => {}),
    attemptsOf: vi.fn((_id: string) => []),
  }
}

export const complete = (completions: CompleteRequest['completions']): CompleteRequest => ({
  type: 'complete',
  requestId: 'c',
  completions,
})

/**
 * A signed result record of task `id` by `key`'s peer at `epoch`, as a completion carries it; the
 * executor is its owner unless `lease` names another owner and that owner's grant proof.
 */
export async function signed(
  key: PrivateKey,
  id: string,
  epoch: number,
  lease: Partial<Pick<ResultRecord, 'owner' | 'grant'>> = {},
) {
  const executor = peerIdFromPrivateKey(key).toString()
  const record: ResultRecord = {
    v: 1,
    taskId: id,
    status: 'succeeded',
    output: id,
    executor,
    owner: executor,
    epoch,
    attempts: [{ executor, epoch, startedAt: 1, finishedAt: 2 }],
    submittedAt: 0,
    startedAt: 1,
    finishedAt: 2,
    ...lease,
  }
  const value = await signResultRecord(record, key)
  return { record, value, base64: Buffer.from(value).toString('base64') }
}

/** A thief's key and peer id (it holds leases of the owner's tasks). */
export const thiefKey = await generateKeyPair('Ed25519')
export const THIEF = peerIdFromPrivateKey(thiefKey).toString()
/** Another peer's key and id (it holds no lease). */
export const otherKey = await generateKeyPair('Ed25519')
export const OTHER = peerIdFromPrivateKey(otherKey).toString()

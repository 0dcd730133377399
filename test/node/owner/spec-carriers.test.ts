import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkJsonOutput } from '../../../src/executor/json-output.ts'
import { createNodeCounters } from '../../../src/node/node-counters.ts'
import { CustodyKeeper } from '../../../src/node/owner/custody-keeper.ts'
import { OwnerLedger } from '../../../src/node/owner/owner-ledger.ts'
import { prepareSubmission } from '../../../src/node/owner/submission.ts'
import { TaskEvents } from '../../../src/node/story/task-events.ts'
import { decodeMessage, encodeMessage } from '../../../src/protocol/codec.ts'
import { MAX_FRAME_BYTES, MAX_JSON_DEPTH } from '../../../src/protocol/constants.ts'
import { decodeCustodyFrame } from '../../../src/protocol/messages/custody-messages.ts'
import {
  type StealGrant,
  stealFrameSchema,
  stealReplySchema,
  submitFrameSchema,
  submitReplySchema,
} from '../../../src/protocol/messages/messages.ts'
import { encodeStoreFrame, storeRequestSchema } from '../../../src/protocol/messages/replicate-messages.ts'
import { GrantSigner } from '../../../src/protocol/records/grant-proof.ts'
import {
  openEnvelopeText,
  openResultRecordSync,
  type ResultRecord,
  recordToBase64,
  resultKey,
  resultValidator,
  signResultBatch,
} from '../../../src/protocol/records/result-record.ts'
import { InvalidTaskError } from '../../../src/task/errors.ts'
import { MAX_INPUT_BYTES, MAX_INPUT_DEPTH, MAX_OUTPUT_DEPTH } from '../../../src/task/limits.ts'
import { parseTaskSpec } from '../../../src/task/spec.ts'
import type { Task } from '../../../src/task/task.ts'
import { anySpecInput } from '../../protocol/arbitraries.ts'
import { EXECUTOR, executorKey, makeStealRequest, OWNER, ownerKey } from '../../protocol/fixtures.ts'
import { plainQueue } from '../plain-queue.ts'

/**
 * An owner must never send what its peers refuse: a refused gossip message graylists its sender,
 * and a refused frame aborts the exchange. Submissions are drawn as the front doors accept them —
 * inputs nested up to the limit, large ones — and every message an owner builds from them is
 * checked against the decoder or validator of the peer that receives it. A new message that
 * carries a spec (or its output) belongs in `carriers` below.
 */

/** JSON nested exactly `depth` levels of arrays and objects (alternating), around `leaf`. */
function nested(depth: number, leaf: unknown = 'x'): unknown {
  let value = leaf
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { k: value }
  return value
}

/** Inputs as submitters write them: anything small, nested at most to the limit, often at it. */
const anyInput = fc.oneof(
  { weight: 3, arbitrary: fc.constant(nested(MAX_INPUT_DEPTH)) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: MAX_INPUT_DEPTH }).map((d) => nested(d)) },
  // a `__proto__` key is refused at every front door (hostile-input tests): never accepted, not tried here
  {
    weight: 1,
    arbitrary: fc
      .jsonValue({ maxDepth: 4 })
      .map((v) => JSON.parse(JSON.stringify(v)))
      .filter((v) => !JSON.stringify(v).includes('"__proto__"')),
  },
  // large and deep at once: the byte limits of announcements and frames are tried too
  { weight: 1, arbitrary: fc.constant(nested(MAX_INPUT_DEPTH, 'y'.repeat(MAX_INPUT_BYTES - 500))) },
)

/** An accepted submission: 1 to 6 specs of a known type, maybe with keys and dependencies among them. */
const anySubmission = fc
  .array(fc.tuple(anySpecInput, anyInput), { minLength: 1, maxLength: 6 })
  .map((items) =>
    items.map(([spec, input], i) => ({
      ...spec,
      type: 'echo',
      input,
      key: `k${i}`,
      dependsOn: i > 0 && spec.priority !== undefined && spec.priority % 2 === 0 ? [`k${i - 1}`] : [],
    })),
  )

/** The owner's acceptance of a submission (what every front door calls). */
function accept(items: unknown[]): Task[] {
  const { tasks } = prepareSubmission(items, {
    submitter: 'client',
    owner: OWNER,
    now: Date.now(),
    random: Math.random,
    knowsType: () => true,
    isKnownId: () => false,
  })
  return tasks.map((p) => p.task)
}

/** A grant of every task, built by a real owner ledger (its own grant proofs included). */
function grantAll(tasks: Task[]): StealGrant {
  const queue = plainQueue(false) // its own wait is unbounded: it grants what the thief asks
  const ledger = new OwnerLedger({
    queue,
    results: {
      keep: async () => {},
      whenPublished: async () => {},
      admit: () => {},
      open: (value: Uint8Array, key?: Uint8Array) => openResultRecordSync(value, key),
    },
    counters: createNodeCounters(),
    leaseTtlMs: 10_000,
    slots: 1,
    speed: 1,
    self: OWNER,
    events: new TaskEvents(),
    grants: new GrantSigner(ownerKey),
  })
  for (const task of tasks) ledger.take(task)
  // a thief that can run every one of them
  const labels = [...new Set(tasks.flatMap((t) => t.spec.resources.labels))]
  const offer = { types: ['echo'], labels, slots: 1024, memoryMb: 16 * 1024 * 1024 }
  const request = { ...makeStealRequest(), max: 1000, freeSlots: 1000, offer }
  const granted: StealGrant = { type: 'grant', requestId: request.requestId, tasks: [], leases: [], ttlMs: 0 }
  for (;;) {
    const grant = ledger.grant(EXECUTOR, request)
    if (grant.tasks.length === 0) return granted
    granted.tasks.push(...grant.tasks)
    granted.leases.push(...grant.leases)
    frames.push(grant)
  }
}
let frames: StealGrant[] = []

/** The records a thief signs for the granted tasks, run by `echo` (its output is its input). */
function records(grant: StealGrant): Uint8Array[] {
  const made: ResultRecord[] = grant.tasks.map((task, i) => {
    const lease = grant.leases[i]
    return {
      v: 1,
      taskId: task.id,
      status: 'succeeded',
      output: checkJsonOutput(task.spec.input),
      executor: EXECUTOR,
      owner: task.owner,
      epoch: lease.epoch,
      grant: lease.proof,
      attempts: [{ executor: EXECUTOR, epoch: lease.epoch, startedAt: 1, finishedAt: 2 }],
      submittedAt: task.submittedAt,
      startedAt: 1,
      finishedAt: 2,
    }
  })
  return signResultBatch(made, executorKey)
}

const frame = <T>(schema: Parameters<typeof decodeMessage<T>>[0], value: unknown, what: string): T =>
  decodeMessage(schema, encodeMessage(value), MAX_FRAME_BYTES, what)

/** Every message an owner (or its thief) builds from accepted specs, checked as its receiver checks it. */
const carriers: Array<[string, (tasks: Task[]) => Promise<void> | void]> = [
  [
    'custody holds (frames to each custodian, which checks them)',
    async (tasks) => {
      const sent: unknown[] = []
      const keeper = new CustodyKeeper({
        custody: {
          request: async (_peer, frame) => {
            sent.push(frame)
            return { type: 'held', requestId: frame.requestId, held: 0 }
          },
        },
        candidates: async () => [EXECUTOR],
        addrsOf: () => ['/ip4/127.0.0.1/tcp/4010'],
        openTasks: () => tasks,
      })
      await keeper.hold(tasks)
      const held = sent.flatMap((f) => {
        const decoded = decodeCustodyFrame(encodeMessage(f))
        return decoded.type === 'hold' ? decoded.tasks : []
      })
      expect(held).toEqual(tasks)
    },
  ],
  [
    'steal grants (frames to the thief), then records, completions, replicas and result replies',
    async (tasks) => {
      frames = []
      const grant = grantAll(tasks)
      expect(grant.tasks.map((t) => t.id).sort()).toEqual(tasks.map((t) => t.id).sort())
      for (const g of frames) expect(frame(stealReplySchema, g, 'grant')).toEqual(g)
      const values = records(grant)
      for (const [i, value] of values.entries()) {
        const key = resultKey(grant.tasks[i].id)
        await resultValidator(key, value) // every DHT peer, on PUT_VALUE and GET_VALUE
        const text = recordToBase64(value)
        const complete = {
          type: 'complete',
          requestId: 'c',
          completions: [
            { taskId: grant.tasks[i].id, epoch: grant.leases[i].epoch, status: 'succeeded', record: text },
          ],
        }
        expect(frame(stealFrameSchema, complete, 'complete frame')).toEqual(complete)
        // a replica travels as the value itself, and the receiver keeps the executor's bytes
        const store = decodeMessage(
          storeRequestSchema,
          encodeStoreFrame('s', [value]),
          MAX_FRAME_BYTES,
          'store frame',
        )
        expect(
          Buffer.from(openEnvelopeText(store.records[0]).value.pieces.join(''), 'utf8').equals(
            Buffer.from(value),
          ),
        ).toBe(true)
        const reply = { type: 'result', requestId: 'r', taskId: grant.tasks[i].id, record: text }
        expect(frame(submitReplySchema, reply, 'result reply')).toEqual(reply)
      }
    },
  ],
]

describe('an owner never builds a message its peers refuse', () => {
  it('every message built from accepted submissions passes its receiver: custody holds, grants, records', async () => {
    await fc.assert(
      fc.asyncProperty(anySubmission, async (items) => {
        // accepted at the front door: the submit frame carries it, the owner takes it
        const submit = { type: 'submit', requestId: 'r', tasks: items }
        frame(submitFrameSchema, submit, 'submit frame')
        const tasks = accept(items)
        for (const [, check] of carriers) await check(tasks)
      }),
      { numRuns: 30 },
    )
  }, 120_000)

  it('a grant of many large tasks is split to fit the frame limit; the rest stay queued for the next', () => {
    const big = 'z'.repeat(MAX_INPUT_BYTES - 100)
    const tasks = accept(Array.from({ length: 24 }, (_, i) => ({ type: 'echo', input: [i, big] })))
    frames = []
    const grant = grantAll(tasks)
    expect(grant.tasks).toHaveLength(24)
    expect(frames.length).toBeGreaterThan(1)
    for (const g of frames) {
      expect(encodeMessage(g).byteLength).toBeLessThanOrEqual(MAX_FRAME_BYTES)
      expect(frame(stealReplySchema, g, 'grant')).toEqual(g)
    }
  })

  it('an input one level deeper than the limit is refused at submission, naming the field', () => {
    expect(() => parseTaskSpec({ type: 'echo', input: nested(MAX_INPUT_DEPTH) })).not.toThrow()
    const deeper = { type: 'echo', input: nested(MAX_INPUT_DEPTH + 1) }
    expect(() => parseTaskSpec(deeper)).toThrow(InvalidTaskError)
    expect(() => parseTaskSpec(deeper)).toThrow(
      `task.input${'[0].k'.repeat(MAX_INPUT_DEPTH / 2)}: input nests deeper than ${MAX_INPUT_DEPTH} levels`,
    )
    // the submit frame still fits it (so the node, not the frame, refuses it, with a clear error)
    expect(() =>
      frame(submitFrameSchema, { type: 'submit', requestId: 'r', tasks: [deeper] }, 'submit'),
    ).not.toThrow()
    expect(MAX_INPUT_DEPTH).toBeLessThan(MAX_JSON_DEPTH)
  })

  it("a handler's output one level deeper than its record can carry is refused by the executor", async () => {
    expect(() => checkJsonOutput(nested(MAX_OUTPUT_DEPTH + 1))).toThrow(
      `nests deeper than ${MAX_OUTPUT_DEPTH} levels`,
    )
    const record: ResultRecord = {
      v: 1,
      taskId: accept([{ type: 'echo' }])[0].id,
      status: 'succeeded',
      output: checkJsonOutput(nested(MAX_OUTPUT_DEPTH)),
      executor: OWNER,
      owner: OWNER,
      epoch: 1,
      attempts: [],
      submittedAt: 0,
      startedAt: 1,
      finishedAt: 2,
    }
    const [value] = signResultBatch([record], ownerKey)
    await resultValidator(resultKey(record.taskId), value)
  })
})

import { peerIdFromString } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { decodeMessage, encodeMessage } from '../../../src/protocol/codec.ts'
import { MAX_LEASES_PER_MESSAGE, MAX_NOTICES_PER_MESSAGE } from '../../../src/protocol/constants.ts'
import {
  beaconSchema,
  holdRequestSchema,
  resultNoticeSchema,
  stealFrameSchema,
  stealReplySchema,
  submitFrameSchema,
  submitReplySchema,
} from '../../../src/protocol/messages/messages.ts'
import {
  EXECUTOR,
  holdOf,
  LEASE_PROOF,
  makeBeacon,
  makeComplete,
  makeCompleted,
  makeCompletion,
  makeLargestNotice,
  makeNotice,
  makeNoticeEntry,
  makeStealRequest,
  makeTask,
  OWNER,
} from '../fixtures.ts'
import { completions, id, itRefuses, RECORD_B64, type RefusalCase, task } from './message-cases.ts'

/** [schema name, schema, a valid message] — every message type once. */
const valid: Array<[string, z.ZodType<unknown>, unknown]> = [
  ['announcement', holdRequestSchema, holdOf([task, makeTask(1)])],
  ['beacon', beaconSchema, makeBeacon()],
  ['result notice', resultNoticeSchema, makeNotice()],
  [
    'result notice of a failure at epoch 0',
    resultNoticeSchema,
    makeNotice([makeNoticeEntry(0, { status: 'failed', epoch: 0 })]),
  ],
  [
    'result notice of several results',
    resultNoticeSchema,
    makeNotice([makeNoticeEntry(0), makeNoticeEntry(1, { status: 'failed', epoch: 7 }), makeNoticeEntry(2)]),
  ],
  ['result notice at the entry limit', resultNoticeSchema, makeLargestNotice()],
  ['steal', stealFrameSchema, makeStealRequest()],
  ['renew', stealFrameSchema, { type: 'renew', requestId: 'r', leases: [{ taskId: id, epoch: 3 }] }],
  ['complete', stealFrameSchema, makeComplete([makeCompletion(0, { epoch: 3, status: 'failed' })])],
  ['complete with a record', stealFrameSchema, makeComplete([makeCompletion(0, { record: RECORD_B64 })])],
  [
    'complete of a mixed batch',
    stealFrameSchema,
    makeComplete([
      makeCompletion(0, { record: RECORD_B64 }),
      makeCompletion(1, { status: 'failed', epoch: 0 }),
      makeCompletion(2, { epoch: Number.MAX_SAFE_INTEGER }),
    ]),
  ],
  ['complete at the batch limit', stealFrameSchema, makeComplete(completions(MAX_LEASES_PER_MESSAGE))],
  ['release', stealFrameSchema, { type: 'release', requestId: 'r', leases: [] }],
  [
    'grant',
    stealReplySchema,
    {
      type: 'grant',
      requestId: 'r',
      tasks: [task],
      leases: [{ taskId: id, epoch: 1, expiresAt: 99, proof: LEASE_PROOF }],
      ttlMs: 5000,
    },
  ],
  ['empty grant', stealReplySchema, { type: 'grant', requestId: 'r', tasks: [], leases: [], ttlMs: 0 }],
  ['renewed', stealReplySchema, { type: 'renewed', requestId: 'r', accepted: [id], rejected: [] }],
  ['completed', stealReplySchema, makeCompleted([{ taskId: id, outcome: 'stale' }])],
  [
    'completed with every outcome',
    stealReplySchema,
    makeCompleted([
      { taskId: id, outcome: 'accepted' },
      { taskId: makeTask(1).id, outcome: 'stale' },
      { taskId: makeTask(2).id, outcome: 'unknown' },
    ]),
  ],
  ['completed with no outcomes', stealReplySchema, makeCompleted([])],
  [
    'completed at the batch limit',
    stealReplySchema,
    makeCompleted(
      completions(MAX_LEASES_PER_MESSAGE).map((c) => ({ taskId: c.taskId, outcome: 'accepted' })),
    ),
  ],
  ['released', stealReplySchema, { type: 'released', requestId: 'r', released: [id] }],
  ['error', stealReplySchema, { type: 'error', requestId: 'r', code: 'ERR_X', message: 'no' }],
  [
    'submit',
    submitFrameSchema,
    { type: 'submit', requestId: 'r', tasks: [{ type: 'echo' }, 42], submitter: 'me' },
  ],
  ['result', submitFrameSchema, { type: 'result', requestId: 'r', taskId: id, wait: true, timeoutMs: 1000 }],
  ['watch', submitFrameSchema, { type: 'watch', requestId: 'r', taskIds: [id] }],
  ['status', submitFrameSchema, { type: 'status', requestId: 'r' }],
  ['submitted', submitReplySchema, { type: 'submitted', requestId: 'r', ids: [id] }],
  ['result reply', submitReplySchema, { type: 'result', requestId: 'r', taskId: id, record: RECORD_B64 }],
  ['empty result reply', submitReplySchema, { type: 'result', requestId: 'r', taskId: id, record: null }],
  ['status reply', submitReplySchema, { type: 'status', requestId: 'r', status: { peers: 3, ok: true } }],
  [
    'submit error',
    submitReplySchema,
    { type: 'error', requestId: 'r', code: 'ERR_INVALID_TASK', message: 'bad' },
  ],
  ['cancel', submitFrameSchema, { type: 'cancel', requestId: 'r', taskId: id }],
  ['forwarded cancel', submitFrameSchema, { type: 'cancel', requestId: 'r', taskId: id, forwarded: true }],
  [
    'cancelled reply',
    submitReplySchema,
    { type: 'cancelled', requestId: 'r', taskId: id, outcome: 'cancelled', owner: OWNER },
  ],
  [
    'cancel of a finished task',
    submitReplySchema,
    { type: 'cancelled', requestId: 'r', taskId: id, outcome: 'finished', owner: OWNER },
  ],
  ['state', submitFrameSchema, { type: 'state', requestId: 'r', taskId: id }],
  [
    'state reply',
    submitReplySchema,
    { type: 'state', requestId: 'r', taskId: id, state: 'unschedulable', reason: 'label "gpu" missing' },
  ],
  ['story', submitFrameSchema, { type: 'story', requestId: 'r', taskId: id }],
  [
    'story reply',
    submitReplySchema,
    {
      type: 'story',
      requestId: 'r',
      taskId: id,
      events: [
        { at: 1, event: 'accepted' },
        { at: 2, event: 'granted', detail: { to: EXECUTOR, epoch: 1, ok: true } },
      ],
    },
  ],
]

function withoutDefault(field: string) {
  const { [field]: _dropped, ...spec } = task.spec as unknown as Record<string, unknown>
  return holdOf([{ ...task, spec }])
}

/** Custody, beacon and notice messages refused: [case, schema, message, expected error]. */
const invalid: RefusalCase[] = [
  [
    'hold frame naming no custodian',
    holdRequestSchema,
    { ...holdOf([task]), custodians: [] },
    'custodians: Too small',
  ],
  ['task with a bad id', holdRequestSchema, holdOf([{ ...task, id: 'abc' }]), 'tasks[0].id: not a task id'],
  [
    'task owner not a peer id',
    holdRequestSchema,
    holdOf([{ ...task, owner: 'bob' }]),
    'tasks[0].owner: not a peer id',
  ],
  [
    'spec missing a default',
    holdRequestSchema,
    withoutDefault('priority'),
    'tasks[0].spec.priority: required',
  ],
  [
    'resources missing a default',
    holdRequestSchema,
    holdOf([{ ...task, spec: { ...task.spec, resources: { slots: 1, memoryMb: 0 } } }]),
    'tasks[0].spec.resources.labels: required',
  ],
  [
    'spec with a bad type',
    holdRequestSchema,
    holdOf([{ ...task, spec: { ...task.spec, type: 'Echo!' } }]),
    'tasks[0].spec.type: must match',
  ],
  [
    'spec with a huge input',
    holdRequestSchema,
    holdOf([{ ...task, spec: { ...task.spec, input: 'x'.repeat(300_000) } }]),
    'tasks[0].spec.input: over the limit of 262144 bytes',
  ],
  ['task with extra field', holdRequestSchema, holdOf([{ ...task, extra: 1 }]), 'tasks[0]: Unrecognized key'],
  ['beacon slots as a string', beaconSchema, { ...makeBeacon(), slots: '4' }, 'slots: expected number'],
  ['beacon negative queue', beaconSchema, { ...makeBeacon(), queued: -1 }, 'queued: Too small'],
  ['beacon fractional slots', beaconSchema, { ...makeBeacon(), slots: 1.5 }, 'slots: expected int'],
  ['beacon absurd speed', beaconSchema, { ...makeBeacon(), speed: 1e9 }, 'speed: Too big'],
  ['beacon bad label', beaconSchema, { ...makeBeacon(), labels: ['GPU'] }, 'labels[0]: must match'],
  [
    'beacon missing sentAt',
    beaconSchema,
    { ...makeBeacon(), sentAt: undefined },
    'sentAt: is required: expected number',
  ],
  ['notice of no results', resultNoticeSchema, makeNotice([]), 'results: Too small'],
  [
    'notice over the entry limit',
    resultNoticeSchema,
    makeLargestNotice(MAX_NOTICES_PER_MESSAGE + 1),
    'results: Too big',
  ],
  ['notice of version 2', resultNoticeSchema, { ...makeNotice(), v: 2 }, 'v: expected 1'],
  [
    'notice results not a list',
    resultNoticeSchema,
    { v: 1, results: makeNoticeEntry() },
    'results: expected array',
  ],
  [
    'notice in the old single-result shape',
    resultNoticeSchema,
    { v: 1, taskId: id, status: 'succeeded', executor: EXECUTOR, epoch: 2 },
    'results: is required: expected array',
  ],
  [
    'notice naming an executor',
    resultNoticeSchema,
    { ...makeNotice(), executor: EXECUTOR },
    'Unrecognized key: "executor"',
  ],
  [
    'notice entry embedding a record',
    resultNoticeSchema,
    makeNotice([makeNoticeEntry(0, { record: RECORD_B64 } as never)]),
    'results[0]: Unrecognized key: "record"',
  ],
  [
    'notice entry with a bad status',
    resultNoticeSchema,
    makeNotice([makeNoticeEntry(0), makeNoticeEntry(1, { status: 'ok' as never })]),
    'results[1].status: Invalid option',
  ],
  [
    'notice entry with a bad task id',
    resultNoticeSchema,
    makeNotice([makeNoticeEntry(0, { taskId: 'abc' })]),
    'results[0].taskId: not a task id',
  ],
  [
    'notice entry with a negative epoch',
    resultNoticeSchema,
    makeNotice([makeNoticeEntry(0, { epoch: -1 })]),
    'results[0].epoch: Too small',
  ],
  [
    'notice entry with a fractional epoch',
    resultNoticeSchema,
    makeNotice([makeNoticeEntry(0, { epoch: 1.5 })]),
    'results[0].epoch: expected int',
  ],
  [
    'notice entry with an unsafe epoch',
    resultNoticeSchema,
    makeNotice([makeNoticeEntry(0, { epoch: Number.MAX_SAFE_INTEGER + 1 })]),
    'results[0].epoch: Too big',
  ],
  [
    'notice entry without a status',
    resultNoticeSchema,
    makeNotice([{ taskId: id, epoch: 2 } as never]),
    'results[0].status: Invalid option',
  ],
  [
    'task owner in CID form',
    holdRequestSchema,
    holdOf([{ ...task, owner: peerIdFromString(OWNER).toCID().toString() }]),
    'tasks[0].owner: not a peer id',
  ],
]

describe('message schemas', () => {
  it.each(valid)('round-trips a valid %s', (_name, schema, message) => {
    const decoded = decodeMessage(schema, encodeMessage(message), 4 * 1024 * 1024, 'message')
    expect(decoded).toEqual(message)
  })

  itRefuses(invalid)
})

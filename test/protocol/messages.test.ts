import { peerIdFromString } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.ts'
import { InvalidMessageError } from '../../src/protocol/errors.ts'
import {
  announcementSchema,
  beaconSchema,
  resultNoticeSchema,
  stealFrameSchema,
  stealReplySchema,
  submitFrameSchema,
  submitReplySchema,
} from '../../src/protocol/messages.ts'
import { EXECUTOR, makeBeacon, makeNotice, makeStealRequest, makeTask, OWNER } from './fixtures.ts'

const task = makeTask()
const id = task.id
const RECORD_B64 = 'eyJhIjoxfQ=='

/** [schema name, schema, a valid message] — every message type once. */
const valid: Array<[string, z.ZodType<unknown>, unknown]> = [
  ['announcement', announcementSchema, { v: 1, tasks: [task, makeTask(1)] }],
  ['beacon', beaconSchema, makeBeacon()],
  ['result notice', resultNoticeSchema, makeNotice()],
  ['result notice with record', resultNoticeSchema, makeNotice({ record: RECORD_B64 })],
  ['steal', stealFrameSchema, makeStealRequest()],
  ['renew', stealFrameSchema, { type: 'renew', requestId: 'r', leases: [{ taskId: id, epoch: 3 }] }],
  [
    'complete',
    stealFrameSchema,
    { type: 'complete', requestId: 'r', taskId: id, epoch: 3, status: 'failed' },
  ],
  ['release', stealFrameSchema, { type: 'release', requestId: 'r', leases: [] }],
  [
    'grant',
    stealReplySchema,
    {
      type: 'grant',
      requestId: 'r',
      tasks: [task],
      leases: [{ taskId: id, epoch: 1, expiresAt: 99 }],
      ttlMs: 5000,
    },
  ],
  ['empty grant', stealReplySchema, { type: 'grant', requestId: 'r', tasks: [], leases: [], ttlMs: 0 }],
  ['renewed', stealReplySchema, { type: 'renewed', requestId: 'r', accepted: [id], rejected: [] }],
  ['completed', stealReplySchema, { type: 'completed', requestId: 'r', outcome: 'stale' }],
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
]

function withoutDefault(field: string) {
  const { [field]: _dropped, ...spec } = task.spec as unknown as Record<string, unknown>
  return { v: 1, tasks: [{ ...task, spec }] }
}

/** [case, schema, message, expected error]. */
const invalid: Array<[string, z.ZodType<unknown>, unknown, string]> = [
  ['announcement with no tasks', announcementSchema, { v: 1, tasks: [] }, 'tasks: Too small'],
  ['announcement of version 2', announcementSchema, { v: 2, tasks: [task] }, 'v: expected 1'],
  [
    'task with a bad id',
    announcementSchema,
    { v: 1, tasks: [{ ...task, id: 'abc' }] },
    'tasks[0].id: not a task id',
  ],
  [
    'task owner not a peer id',
    announcementSchema,
    { v: 1, tasks: [{ ...task, owner: 'bob' }] },
    'tasks[0].owner: not a peer id',
  ],
  [
    'spec missing a default',
    announcementSchema,
    withoutDefault('priority'),
    'tasks[0].spec.priority: required',
  ],
  [
    'resources missing a default',
    announcementSchema,
    { v: 1, tasks: [{ ...task, spec: { ...task.spec, resources: { slots: 1, memoryMb: 0 } } }] },
    'tasks[0].spec.resources.labels: required',
  ],
  [
    'spec with a bad type',
    announcementSchema,
    { v: 1, tasks: [{ ...task, spec: { ...task.spec, type: 'Echo!' } }] },
    'tasks[0].spec.type: must match',
  ],
  [
    'spec with a huge input',
    announcementSchema,
    { v: 1, tasks: [{ ...task, spec: { ...task.spec, input: 'x'.repeat(300_000) } }] },
    'tasks[0].spec.input: over the limit of 262144 bytes',
  ],
  [
    'task with extra field',
    announcementSchema,
    { v: 1, tasks: [{ ...task, extra: 1 }] },
    'tasks[0]: Unrecognized key',
  ],
  ['beacon slots as a string', beaconSchema, { ...makeBeacon(), slots: '4' }, 'slots: expected number'],
  ['beacon negative queue', beaconSchema, { ...makeBeacon(), queued: -1 }, 'queued: Too small'],
  ['beacon fractional slots', beaconSchema, { ...makeBeacon(), slots: 1.5 }, 'slots: expected int'],
  ['beacon absurd speed', beaconSchema, { ...makeBeacon(), speed: 1e9 }, 'speed: Too big'],
  ['beacon bad label', beaconSchema, { ...makeBeacon(), labels: ['GPU'] }, 'labels[0]: must match'],
  ['beacon missing sentAt', beaconSchema, { ...makeBeacon(), sentAt: undefined }, 'sentAt: expected number'],
  [
    'notice with a bad status',
    resultNoticeSchema,
    makeNotice({ status: 'ok' as never }),
    'status: Invalid option',
  ],
  [
    'notice with bad base64',
    resultNoticeSchema,
    makeNotice({ record: 'not base64!' }),
    'record: Invalid base64',
  ],
  [
    'notice executor not a peer id',
    resultNoticeSchema,
    makeNotice({ executor: OWNER.slice(1) }),
    'executor: not a peer id',
  ],
  [
    'notice executor in CID form',
    resultNoticeSchema,
    makeNotice({ executor: peerIdFromString(EXECUTOR).toCID().toString() }),
    'executor: not a peer id',
  ],
  ['steal of zero tasks', stealFrameSchema, { ...makeStealRequest(), max: 0 }, 'max: Too small'],
  [
    'unknown frame type',
    stealFrameSchema,
    { type: 'grab', requestId: 'r' },
    'type: Invalid discriminator value',
  ],
  ['frame without type', stealFrameSchema, { requestId: 'r' }, 'type: Invalid discriminator value'],
  [
    'renew with a negative epoch',
    stealFrameSchema,
    { type: 'renew', requestId: 'r', leases: [{ taskId: id, epoch: -1 }] },
    'leases[0].epoch: Too small',
  ],
  [
    'complete without status',
    stealFrameSchema,
    { type: 'complete', requestId: 'r', taskId: id, epoch: 1 },
    'status: Invalid option',
  ],
  ['empty request id', stealFrameSchema, { ...makeStealRequest(), requestId: '' }, 'requestId: Too small'],
  [
    'grant with a bad lease',
    stealReplySchema,
    { type: 'grant', requestId: 'r', tasks: [], leases: [{ taskId: id }], ttlMs: 1 },
    'leases[0].epoch: expected number',
  ],
  [
    'completed with a bad outcome',
    stealReplySchema,
    { type: 'completed', requestId: 'r', outcome: 'maybe' },
    'outcome: Invalid option',
  ],
  ['request sent as a reply', stealReplySchema, makeStealRequest(), 'type: Invalid discriminator value'],
  ['submit of nothing', submitFrameSchema, { type: 'submit', requestId: 'r', tasks: [] }, 'tasks: Too small'],
  [
    'watch of a bad id',
    submitFrameSchema,
    { type: 'watch', requestId: 'r', taskIds: ['x'] },
    'taskIds[0]: not a task id',
  ],
  [
    'result with a negative timeout',
    submitFrameSchema,
    { type: 'result', requestId: 'r', taskId: id, timeoutMs: -5 },
    'timeoutMs: Too small',
  ],
  [
    'status reply not an object',
    submitReplySchema,
    { type: 'status', requestId: 'r', status: [1] },
    'status: expected record',
  ],
  [
    'result reply without record',
    submitReplySchema,
    { type: 'result', requestId: 'r', taskId: id },
    'record: expected string, received undefined',
  ],
]

describe('message schemas', () => {
  it.each(valid)('round-trips a valid %s', (_name, schema, message) => {
    const decoded = decodeMessage(schema, encodeMessage(message), 4 * 1024 * 1024, 'message')
    expect(decoded).toEqual(message)
  })

  it.each(invalid)('refuses %s, naming the field', (_name, schema, message, expected) => {
    let error: unknown
    try {
      decodeMessage(schema, encodeMessage(message), 4 * 1024 * 1024, 'message')
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(InvalidMessageError)
    expect((error as Error).message).toContain(`message: ${expected}`)
  })
})

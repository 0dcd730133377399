import { describe } from 'vitest'
import { MAX_LEASES_PER_MESSAGE } from '../../../src/protocol/constants.ts'
import {
  stealFrameSchema,
  stealReplySchema,
  submitFrameSchema,
  submitReplySchema,
} from '../../../src/protocol/messages/messages.ts'
import {
  EXECUTOR,
  makeComplete,
  makeCompleted,
  makeCompletion,
  makeStealRequest,
  makeTask,
  OWNER,
} from '../fixtures.ts'
import { itRefuses, type RefusalCase } from './message-cases.ts'

const task = makeTask()
const id = task.id
const _RECORD_B64 = 'eyJhIjoxfQ=='

/** `count` completions of distinct tasks. */
const completions = (count: number) => Array.from({ length: count }, (_, i) => makeCompletion(i))

/** Steal-session and submit frames refused: [case, schema, message, expected error]. */
const invalid: RefusalCase[] = [
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
    makeComplete([{ taskId: id, epoch: 1 } as never]),
    'completions[0].status: Invalid option',
  ],
  ['complete of nothing', stealFrameSchema, makeComplete([]), 'completions: Too small'],
  [
    'complete over the batch limit',
    stealFrameSchema,
    makeComplete(completions(MAX_LEASES_PER_MESSAGE + 1)),
    'completions: Too big',
  ],
  [
    'complete in the old single-task shape',
    stealFrameSchema,
    { type: 'complete', requestId: 'r', taskId: id, epoch: 3, status: 'failed' },
    'completions: is required: expected array',
  ],
  [
    'complete with a bad record',
    stealFrameSchema,
    makeComplete([makeCompletion(0), makeCompletion(1, { record: 'not base64!' })]),
    'completions[1].record: must be canonical padded base64',
  ],
  [
    'complete with an empty record',
    stealFrameSchema,
    makeComplete([makeCompletion(0, { record: '' })]),
    'completions[0].record: Too small',
  ],
  [
    'complete with a bad task id',
    stealFrameSchema,
    makeComplete([makeCompletion(0, { taskId: 'abc' })]),
    'completions[0].taskId: not a task id',
  ],
  [
    'complete with a negative epoch',
    stealFrameSchema,
    makeComplete([makeCompletion(0), makeCompletion(1), makeCompletion(2, { epoch: -1 })]),
    'completions[2].epoch: Too small',
  ],
  [
    'complete entry with an extra field',
    stealFrameSchema,
    makeComplete([{ ...makeCompletion(0), executor: EXECUTOR } as never]),
    'completions[0]: Unrecognized key: "executor"',
  ],
  ['empty request id', stealFrameSchema, { ...makeStealRequest(), requestId: '' }, 'requestId: Too small'],
  [
    'grant with a bad lease',
    stealReplySchema,
    { type: 'grant', requestId: 'r', tasks: [], leases: [{ taskId: id }], ttlMs: 1 },
    'leases[0].epoch: is required: expected number',
  ],
  [
    'completed with a bad outcome',
    stealReplySchema,
    makeCompleted([{ taskId: id, outcome: 'maybe' as never }]),
    'outcomes[0].outcome: Invalid option',
  ],
  [
    'completed in the old single-outcome shape',
    stealReplySchema,
    { type: 'completed', requestId: 'r', outcome: 'accepted' },
    'outcomes: is required: expected array',
  ],
  [
    'completed outcome without a task id',
    stealReplySchema,
    makeCompleted([{ outcome: 'accepted' } as never]),
    'outcomes[0].taskId: is required: expected string',
  ],
  [
    'completed outcome for a bad task id',
    stealReplySchema,
    makeCompleted([{ taskId: 'abc', outcome: 'accepted' }]),
    'outcomes[0].taskId: not a task id',
  ],
  [
    'completed over the batch limit',
    stealReplySchema,
    makeCompleted(
      completions(MAX_LEASES_PER_MESSAGE + 1).map((c) => ({ taskId: c.taskId, outcome: 'stale' as const })),
    ),
    'outcomes: Too big',
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
    'record: is required: expected string',
  ],
  [
    'cancel of a bad id',
    submitFrameSchema,
    { type: 'cancel', requestId: 'r', taskId: 'x' },
    'taskId: not a task id',
  ],
  [
    'cancel with an unknown field',
    submitFrameSchema,
    { type: 'cancel', requestId: 'r', taskId: id, force: true },
    'Unrecognized key',
  ],
  [
    'cancelled reply with another outcome',
    submitReplySchema,
    { type: 'cancelled', requestId: 'r', taskId: id, outcome: 'maybe', owner: OWNER },
    'outcome: Invalid option',
  ],
  [
    'cancelled reply whose owner is no peer id',
    submitReplySchema,
    { type: 'cancelled', requestId: 'r', taskId: id, outcome: 'cancelled', owner: 'me' },
    'owner: not a peer id',
  ],
  [
    'state reply with an unknown state',
    submitReplySchema,
    { type: 'state', requestId: 'r', taskId: id, state: 'lost' },
    'state: Invalid option',
  ],
  [
    'story event with a nested detail',
    submitReplySchema,
    { type: 'story', requestId: 'r', taskId: id, events: [{ at: 1, event: 'x', detail: { a: { b: 1 } } }] },
    'events[0].detail.a: Invalid input',
  ],
]

describe('steal and submit frames', () => {
  itRefuses(invalid)
})

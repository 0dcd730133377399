import fc from 'fast-check'
import { MAX_DURATION_MS } from '../../src/protocol/constants.ts'
import {
  anyBase64,
  anyJson,
  anyKey,
  anyPeer,
  anyRequestId,
  anyTaskId,
  anyTimestamp,
  errorReply,
  finite,
  short,
  taskIds,
} from './arbitraries.ts'

/** fast-check arbitraries of the submit protocol's frames and replies (see arbitraries.ts). */

const byTask = <T extends string>(type: T) =>
  fc.record({ type: fc.constant(type), requestId: anyRequestId, taskId: anyTaskId })

/** Every request of the submit protocol, by type. */
export const submitFrames = {
  submit: fc.record(
    {
      type: fc.constant('submit' as const),
      requestId: anyRequestId,
      tasks: fc.array(anyJson, { minLength: 1, maxLength: 3 }),
      submitter: fc.string({ minLength: 1, maxLength: 256 }),
    },
    { requiredKeys: ['type', 'requestId', 'tasks'] },
  ),
  result: fc.record(
    {
      type: fc.constant('result' as const),
      requestId: anyRequestId,
      taskId: anyTaskId,
      wait: fc.boolean(),
      timeoutMs: fc.integer({ min: 0, max: MAX_DURATION_MS }),
    },
    { requiredKeys: ['type', 'requestId', 'taskId'] },
  ),
  watch: fc.record({ type: fc.constant('watch' as const), requestId: anyRequestId, taskIds: taskIds(1, 3) }),
  status: fc.record({ type: fc.constant('status' as const), requestId: anyRequestId }),
  cancel: fc.record(
    {
      type: fc.constant('cancel' as const),
      requestId: anyRequestId,
      taskId: anyTaskId,
      forwarded: fc.boolean(),
    },
    { requiredKeys: ['type', 'requestId', 'taskId'] },
  ),
  state: fc.record(
    {
      type: fc.constant('state' as const),
      requestId: anyRequestId,
      taskId: anyTaskId,
      forwarded: fc.boolean(),
    },
    { requiredKeys: ['type', 'requestId', 'taskId'] },
  ),
  story: byTask('story'),
}

/** Every reply of the submit protocol, by type. */
export const submitReplies = {
  submitted: fc.record({
    type: fc.constant('submitted' as const),
    requestId: anyRequestId,
    ids: taskIds(0, 3),
  }),
  result: fc.record({
    type: fc.constant('result' as const),
    requestId: anyRequestId,
    taskId: anyTaskId,
    record: fc.option(anyBase64, { nil: null }),
  }),
  status: fc.record({
    type: fc.constant('status' as const),
    requestId: anyRequestId,
    status: fc.dictionary(anyKey(), anyJson, { maxKeys: 4 }),
  }),
  cancelled: fc.record({
    type: fc.constant('cancelled' as const),
    requestId: anyRequestId,
    taskId: anyTaskId,
    outcome: fc.constantFrom('cancelled' as const, 'finished' as const),
    owner: anyPeer,
  }),
  state: fc.record(
    {
      type: fc.constant('state' as const),
      requestId: anyRequestId,
      taskId: anyTaskId,
      state: fc.constantFrom('waiting', 'queued', 'leased', 'running', 'unschedulable', 'done', 'unknown'),
      reason: short(),
    },
    { requiredKeys: ['type', 'requestId', 'taskId', 'state'] },
  ),
  story: fc.record({
    type: fc.constant('story' as const),
    requestId: anyRequestId,
    taskId: anyTaskId,
    events: fc.array(
      fc.record(
        {
          at: anyTimestamp,
          event: fc.string({ minLength: 1, maxLength: 64 }),
          detail: fc.dictionary(anyKey(64), fc.oneof(short(), finite(-1e9, 1e9), fc.boolean()), {
            maxKeys: 3,
          }),
        },
        { requiredKeys: ['at', 'event'] },
      ),
      { maxLength: 3 },
    ),
  }),
  error: errorReply,
}

import { isTaskId } from '../../task/task-id.ts'
import {
  MAX_CUSTODIANS,
  MAX_HOT_ADDRS,
  MAX_LEASES_PER_MESSAGE,
  MAX_MULTIADDR_CHARS,
  MAX_PEER_ID_CHARS,
  MAX_REQUEST_ID_CHARS,
  MAX_TASK_ID_CHARS,
  MAX_TASKS_PER_MESSAGE,
} from '../constants.ts'
import { isInt, isListOf, isObject, isString, keysWithin } from '../records/record-fast-check.ts'
import type { CustodyFrame, CustodyReply } from './custody-messages.ts'
import { isWellFormedTask } from './task-fast-check.ts'

/**
 * Fast, exact-or-stricter checks of the custody frames every custodian decodes for every task its
 * owners take (`hold`, then `drop`), and of the `held` answer the owner decodes: true only for values
 * their schemas accept as they are, so the schema (and its error message) runs only for a value a
 * check refuses (see `withFastPath`). A `hold` of a few hundred tasks took the schema ~4.5 µs a task
 * beside ~2.5 for the parse and these checks. `forget` and `query` frames, rare, go to the schema.
 * `test/protocol/messages/custody-fast-check.test.ts` holds each check to its schema.
 */

type Obj = Record<string, unknown>

/** An object whose keys are exactly `keys` (all required, no other). */
function shaped(keys: readonly string[]): (v: unknown) => v is Obj {
  const allowed = new Set(keys)
  return (v: unknown): v is Obj => isObject(v) && keysWithin(v, keys, allowed)
}

const isHoldShape = shaped(['type', 'requestId', 'custodians', 'tasks'])
const isDropShape = shaped(['type', 'requestId', 'ids'])
const isCustodianShape = shaped(['peerId', 'addrs'])
const isHeldShape = shaped(['type', 'requestId', 'held'])

const isRequestId = (v: unknown) => isString(v, 1, MAX_REQUEST_ID_CHARS)
const isAddr = (v: unknown) => isString(v, 1, MAX_MULTIADDR_CHARS)
const isTaskIdText = (v: unknown) => isString(v, 0, MAX_TASK_ID_CHARS) && isTaskId(v)

function isCustodian(v: unknown): boolean {
  return (
    isCustodianShape(v) &&
    isString(v.peerId, 1, MAX_PEER_ID_CHARS) &&
    isListOf(v.addrs, 0, MAX_HOT_ADDRS, isAddr)
  )
}

/** True only for a `hold` or `drop` frame `custodyFrameSchema` accepts as it is. */
export function isWellFormedCustodyFrame(v: unknown): v is CustodyFrame {
  if (!isObject(v)) return false
  if (v.type === 'hold') {
    return (
      isHoldShape(v) &&
      isRequestId(v.requestId) &&
      isListOf(v.custodians, 1, MAX_CUSTODIANS, isCustodian) &&
      isListOf(v.tasks, 0, MAX_TASKS_PER_MESSAGE, isWellFormedTask)
    )
  }
  if (v.type === 'drop') {
    return (
      isDropShape(v) && isRequestId(v.requestId) && isListOf(v.ids, 1, MAX_LEASES_PER_MESSAGE, isTaskIdText)
    )
  }
  return false
}

/** True only for a `held` answer `custodyReplySchema` accepts as it is. */
export function isWellFormedCustodyReply(v: unknown): v is CustodyReply {
  return (
    isHeldShape(v) &&
    v.type === 'held' &&
    isRequestId(v.requestId) &&
    isInt(v.held, 0, Number.MAX_SAFE_INTEGER)
  )
}

import { MAX_LABELS } from '../../task/limits.ts'
import { NAME_PATTERN } from '../../task/spec.ts'
import {
  MAX_DURATION_MS,
  MAX_HANDLER_TYPES,
  MAX_HOT_ADDRS,
  MAX_HOT_PEERS,
  MAX_MEMORY_MB,
  MAX_MULTIADDR_CHARS,
  MAX_NODE_SLOTS,
  MAX_PEER_ID_CHARS,
  MAX_QUEUED_TASKS,
  MAX_QUEUED_TYPES,
  MAX_SPEED,
} from '../constants.ts'
import {
  absentOr,
  isInt,
  isListOf,
  isObject,
  isString,
  isTimestamp,
  keysWithin,
} from '../records/record-fast-check.ts'
import type { Beacon } from './beacon-messages.ts'

/**
 * A fast, exact-or-stricter check of a beacon of `/taskmesh/beacon/1.1.0`: true only for values
 * `beaconSchema` accepts as they are, so the schema (and its error message) runs only for a beacon
 * this refuses (see `withFastPath`). Every node decodes a beacon from each neighbour each second
 * and at every big change of its queue — from a busy owner several a second, zod's parse 1.6 % of a
 * keeper's samples in replica-cost: a decode took 3.2 µs (a lone beacon) to 10.3 µs (two hot peers)
 * through the schema, 1.8 to 4.7 with this check. Beacons of protocol 1.0 go to their schema. `test/protocol/messages/beacon-fast-check.test.ts` holds the check to the schema.
 */

const LOAD_KEYS = [
  'slots',
  'running',
  'queued',
  'queuedWorkMs',
  'speed',
  'types',
  'labels',
  'memoryMb',
  'expectedWaitMs',
]
const BEACON_REQUIRED = ['v', 'seq', ...LOAD_KEYS, 'sentAt']
const BEACON_KEYS = new Set([...BEACON_REQUIRED, 'queuedTypes', 'hot'])
const HOT_REQUIRED = ['peerId', 'addrs', 'ageMs', ...LOAD_KEYS]
const HOT_KEYS = new Set([...HOT_REQUIRED, 'queuedTypes'])

/** A finite number in min..max (JSON has no other numbers). */
const isNumberIn = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && v >= min && v <= max
const isDuration = (v: unknown) => isNumberIn(v, 0, MAX_DURATION_MS)
const isName = (v: unknown) => typeof v === 'string' && NAME_PATTERN.test(v)
const isAddr = (v: unknown) => isString(v, 1, MAX_MULTIADDR_CHARS)

const isQueuedTypes = (v: unknown) => isListOf(v, 1, MAX_QUEUED_TYPES, isName)

/** The load fields a beacon and each of its hot peers carry. */
function hasLoad(o: Record<string, unknown>): boolean {
  return (
    isInt(o.slots, 0, MAX_NODE_SLOTS) &&
    isInt(o.running, 0, MAX_NODE_SLOTS) &&
    isInt(o.queued, 0, MAX_QUEUED_TASKS) &&
    isDuration(o.queuedWorkMs) &&
    isNumberIn(o.speed, 0, MAX_SPEED) &&
    isListOf(o.types, 0, MAX_HANDLER_TYPES, isName) &&
    isListOf(o.labels, 0, MAX_LABELS, isName) &&
    isInt(o.memoryMb, 0, MAX_MEMORY_MB) &&
    isDuration(o.expectedWaitMs)
  )
}

function isHotPeer(v: unknown): boolean {
  return (
    isObject(v) &&
    keysWithin(v, HOT_REQUIRED, HOT_KEYS) &&
    isString(v.peerId, 1, MAX_PEER_ID_CHARS) &&
    isListOf(v.addrs, 0, MAX_HOT_ADDRS, isAddr) &&
    isDuration(v.ageMs) &&
    hasLoad(v) &&
    absentOr(v, 'queuedTypes', isQueuedTypes)
  )
}

const isHotList = (v: unknown) => isListOf(v, 0, MAX_HOT_PEERS, isHotPeer)

/** True only for a beacon `beaconSchema` (protocol 1.1) accepts as it is. */
export function isWellFormedBeacon(v: unknown): v is Beacon {
  return (
    isObject(v) &&
    keysWithin(v, BEACON_REQUIRED, BEACON_KEYS) &&
    v.v === 1 &&
    isInt(v.seq, 0, Number.MAX_SAFE_INTEGER) &&
    hasLoad(v) &&
    isTimestamp(v.sentAt) &&
    absentOr(v, 'queuedTypes', isQueuedTypes) &&
    absentOr(v, 'hot', isHotList)
  )
}

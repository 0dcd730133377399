import { z } from 'zod'
import { MAX_LABELS } from '../../task/limits.ts'
import { decodeMessage } from '../codec.ts'
import {
  MAX_BEACON_BYTES,
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
import { isWellFormedBeacon } from './beacon-fast-check.ts'
import { withFastPath } from './fast-path.ts'
import { durationMsSchema, nameSchema, timestampSchema } from './wire-types.ts'

/** What a node offers and how loaded it is: the part of a beacon a thief chooses its victim by. */
const loadFields = {
  /** Execution slots the node has in all. */
  slots: z.number().int().min(0).max(MAX_NODE_SLOTS),
  /** Tasks running now. */
  running: z.number().int().min(0).max(MAX_NODE_SLOTS),
  /** Tasks waiting in the node's queue that a thief may be granted. */
  queued: z.number().int().min(0).max(MAX_QUEUED_TASKS),
  /** Estimated work waiting in the queue, in ms at nominal speed. */
  queuedWorkMs: durationMsSchema,
  /** Measured speed relative to nominal (1 = nominal). */
  speed: z.number().min(0).max(MAX_SPEED),
  /** Handler types the node runs. */
  types: z.array(nameSchema).max(MAX_HANDLER_TYPES),
  /** Labels the node offers (e.g. `gpu`). */
  labels: z.array(nameSchema).max(MAX_LABELS),
  /** Memory the node offers, in MiB. */
  memoryMb: z.number().int().min(0).max(MAX_MEMORY_MB),
  /** Expected wait of a task queued now, in ms. */
  expectedWaitMs: durationMsSchema,
}

/**
 * Handler types of the stealable queued tasks (beacon protocol 1.1 only): a thief that runs none of
 * them does not ask. Absent when the queue is empty, or holds more types than `MAX_QUEUED_TYPES`.
 */
const queuedTypes = z.array(nameSchema).min(1).max(MAX_QUEUED_TYPES).optional()

/** A loaded peer named in a hot list: who, where, and its load fields. */
const hotFields = {
  peerId: z.string().min(1).max(MAX_PEER_ID_CHARS),
  /** Where it listens (multiaddrs without `/p2p/`), as the sender knows them. */
  addrs: z.array(z.string().min(1).max(MAX_MULTIADDR_CHARS)).max(MAX_HOT_ADDRS),
  /** How old the sender's knowledge of it is, in ms. */
  ageMs: durationMsSchema,
  ...loadFields,
}

/**
 * A loaded peer the sender knows of, passed on so that nodes that are not its neighbours learn
 * where work waits and can dial it to steal (beacon protocol 1.0).
 */
export const hotPeerSchema10 = z.object(hotFields).strict()
/** A loaded peer of a beacon-1.1 hot list: with its queued types when the sender knows them. */
export const hotPeerSchema = z.object({ ...hotFields, queuedTypes }).strict()

/** The fields of a beacon besides its hot list. */
const beaconFields = {
  v: z.literal(1),
  /** Increases with every beacon of one node run; older beacons are dropped. */
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  ...loadFields,
  /** When the beacon was sent, Unix ms. */
  sentAt: timestampSchema,
}

/**
 * Pushed by every node to each connected neighbour on `/taskmesh/beacon/1.0.0` about once a second
 * and at once on a big change: its capacity and load, and the most loaded peers it knows of.
 */
export const beaconSchema10 = z
  .object({
    ...beaconFields,
    /** Up to `MAX_HOT_PEERS` other peers with stealable work, most loaded first. @defaultValue [] */
    hot: z.array(hotPeerSchema10).max(MAX_HOT_PEERS).optional(),
  })
  .strict()

/** A beacon of `/taskmesh/beacon/1.1.0`: a 1.0 beacon plus the queued types, its own and its hot peers'. */
export const beaconSchema = z
  .object({
    ...beaconFields,
    queuedTypes,
    hot: z.array(hotPeerSchema).max(MAX_HOT_PEERS).optional(),
  })
  .strict()

/** A capacity beacon, see {@link beaconSchema} (a 1.0 beacon is one without queued types). */
export type Beacon = z.infer<typeof beaconSchema>
/** A loaded peer named in a beacon, see {@link hotPeerSchema}. */
export type HotPeer = z.infer<typeof hotPeerSchema>

/** The beacon as protocol 1.0 carries it: without the queued types (its schema refuses them). */
export function beaconForV10(beacon: Beacon): Beacon {
  const { queuedTypes: _own, hot, ...rest } = beacon
  if (hot === undefined) return rest
  return { ...rest, hot: hot.map(({ queuedTypes: _theirs, ...peer }) => peer) }
}

/** {@link beaconSchema} checked by hand first (see `beacon-fast-check.ts`): what nodes decode beacons with. */
export const beaconFrameSchema = withFastPath(isWellFormedBeacon, beaconSchema)

/**
 * Decodes a beacon frame of protocol 1.1 (or 1.0, with `v10`).
 * @throws InvalidMessageError saying what is wrong.
 */
export function decodeBeacon(bytes: Uint8Array, v10 = false): Beacon {
  return decodeMessage(v10 ? beaconSchema10 : beaconFrameSchema, bytes, MAX_BEACON_BYTES, 'beacon')
}

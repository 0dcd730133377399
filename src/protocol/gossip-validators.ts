import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { decodeMessage } from './codec.ts'
import { MAX_ANNOUNCEMENT_BYTES, MAX_BEACON_BYTES, MAX_NOTICE_BYTES } from './constants.ts'
import {
  type Announcement,
  announcementSchema,
  type Beacon,
  beaconSchema,
  type ResultNotice,
  resultNoticeSchema,
} from './gossip-messages.ts'

/**
 * Decodes a task announcement (gossip payload).
 * @throws InvalidMessageError saying what is wrong.
 */
export function decodeAnnouncement(bytes: Uint8Array): Announcement {
  return decodeMessage(announcementSchema, bytes, MAX_ANNOUNCEMENT_BYTES, 'announcement')
}

/**
 * Decodes a capacity beacon (gossip payload).
 * @throws InvalidMessageError saying what is wrong.
 */
export function decodeBeacon(bytes: Uint8Array): Beacon {
  return decodeMessage(beaconSchema, bytes, MAX_BEACON_BYTES, 'beacon')
}

/**
 * Decodes a result notice (gossip payload): the results its signer (the executor) just stored.
 * @throws InvalidMessageError saying what is wrong.
 */
export function decodeResultNotice(bytes: Uint8Array): ResultNotice {
  return decodeMessage(resultNoticeSchema, bytes, MAX_NOTICE_BYTES, 'result notice')
}

/**
 * Gossipsub validator for `TASKS_TOPIC`. Rejects unsigned messages, malformed or oversized
 * announcements, and any task whose `owner` is not the message's signer (`message.from`).
 * Never throws.
 */
export function validateAnnouncement(_peer: PeerId, message: Message): TopicValidatorResult {
  if (message.type !== 'signed') return TopicValidatorResult.Reject
  try {
    const { tasks } = decodeAnnouncement(message.data)
    const sender = message.from.toString()
    return tasks.every((task) => task.owner === sender)
      ? TopicValidatorResult.Accept
      : TopicValidatorResult.Reject
  } catch {
    return TopicValidatorResult.Reject
  }
}

/**
 * Gossipsub validator for `CAPACITY_TOPIC`. Rejects unsigned messages (a beacon speaks for its
 * signer) and malformed or oversized beacons. Never throws.
 */
export function validateBeacon(_peer: PeerId, message: Message): TopicValidatorResult {
  if (message.type !== 'signed') return TopicValidatorResult.Reject
  try {
    decodeBeacon(message.data)
    return TopicValidatorResult.Accept
  } catch {
    return TopicValidatorResult.Reject
  }
}

/**
 * Gossipsub validator for `RESULTS_TOPIC`. Rejects unsigned messages and malformed or oversized
 * notices; the executor of every listed result is the message's signer. Never throws.
 */
export function validateResultNotice(_peer: PeerId, message: Message): TopicValidatorResult {
  if (message.type !== 'signed') return TopicValidatorResult.Reject
  try {
    decodeResultNotice(message.data)
    return TopicValidatorResult.Accept
  } catch {
    return TopicValidatorResult.Reject
  }
}

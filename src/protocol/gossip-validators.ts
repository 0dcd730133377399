import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { decodeMessage } from './codec.ts'
import { MAX_ANNOUNCEMENT_BYTES, MAX_BEACON_BYTES, MAX_NOTICE_BYTES } from './constants.ts'
import { InvalidMessageError } from './errors.ts'
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
 * Checks a task announcement as received: signed, well-formed, within its size limit, and every
 * task owned by the message's signer (`message.from`).
 * @throws InvalidMessageError saying what is wrong.
 */
export function checkAnnouncement(message: Message): Announcement {
  if (message.type !== 'signed') throw new InvalidMessageError('announcement: not signed')
  const announcement = decodeAnnouncement(message.data)
  const sender = message.from.toString()
  const foreign = announcement.tasks.findIndex((task) => task.owner !== sender)
  if (foreign >= 0) throw new InvalidMessageError(`announcement: tasks[${foreign}].owner is not the signer`)
  return announcement
}

/**
 * Checks a capacity beacon as received: signed (a beacon speaks for its signer) and well-formed.
 * @throws InvalidMessageError saying what is wrong.
 */
export function checkBeacon(message: Message): Beacon {
  if (message.type !== 'signed') throw new InvalidMessageError('beacon: not signed')
  return decodeBeacon(message.data)
}

/**
 * Checks a result notice as received: signed (the executor of every listed result is the signer)
 * and well-formed.
 * @throws InvalidMessageError saying what is wrong.
 */
export function checkResultNotice(message: Message): ResultNotice {
  if (message.type !== 'signed') throw new InvalidMessageError('result notice: not signed')
  return decodeResultNotice(message.data)
}

/** Turns a check into a gossipsub validator: Accept when it passes, Reject otherwise. Never throws. */
export function validatorOf(check: (message: Message) => unknown) {
  return (_peer: PeerId, message: Message): TopicValidatorResult => {
    try {
      check(message)
      return TopicValidatorResult.Accept
    } catch {
      return TopicValidatorResult.Reject
    }
  }
}

/**
 * Gossipsub validator for `TASKS_TOPIC`. Rejects unsigned messages, malformed or oversized
 * announcements, and any task whose `owner` is not the message's signer. Never throws.
 */
export const validateAnnouncement = validatorOf(checkAnnouncement)

/**
 * Gossipsub validator for `CAPACITY_TOPIC`. Rejects unsigned messages and malformed or oversized
 * beacons. Never throws.
 */
export const validateBeacon = validatorOf(checkBeacon)

/**
 * Gossipsub validator for `RESULTS_TOPIC`. Rejects unsigned messages and malformed or oversized
 * notices. Never throws.
 */
export const validateResultNotice = validatorOf(checkResultNotice)

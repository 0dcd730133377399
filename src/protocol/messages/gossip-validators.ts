import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { decodeMessage } from '../codec.ts'
import { MAX_NOTICE_BYTES } from '../constants.ts'
import { InvalidMessageError } from '../errors.ts'
import { type ResultNotice, resultNoticeSchema } from './gossip-messages.ts'

/**
 * Decodes a result notice (gossip payload): the results its signer (the executor) just stored.
 * @throws InvalidMessageError saying what is wrong.
 */
export function decodeResultNotice(bytes: Uint8Array): ResultNotice {
  return decodeMessage(resultNoticeSchema, bytes, MAX_NOTICE_BYTES, 'result notice')
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

/**
 * Gossipsub validator of the notice topics. Rejects unsigned messages and malformed or oversized
 * notices. Never throws.
 */
export function validateResultNotice(_peer: PeerId, message: Message): TopicValidatorResult {
  try {
    checkResultNotice(message)
    return TopicValidatorResult.Accept
  } catch {
    return TopicValidatorResult.Reject
  }
}

import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidTaskError } from '../task/errors.ts'

// the checks of the node's numeric and peer-id options: each refuses a bad value naming its field

/** `value` when it is a positive integer. @throws InvalidTaskError naming `field` */
export function positiveInt(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidTaskError(`must be a positive integer, got ${value}`, field)
  return value
}

/** `value` when it is a positive finite number. @throws InvalidTaskError naming `field` */
export function positiveNumber(value: number, field: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new InvalidTaskError(`must be a positive number, got ${value}`, field)
  return value
}

/** `value` when it is an integer from 0 to `max`. @throws InvalidTaskError naming `field` */
export function countUpTo(value: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new InvalidTaskError(`must be an integer from 0 to ${max}, got ${value}`, field)
  return value
}

/** A peer id in its canonical string form (what connections report), or an error naming `field`. */
export function canonicalPeerId(value: string, field: string): string {
  try {
    return peerIdFromString(value).toString()
  } catch {
    throw new InvalidTaskError(`"${value}" is not a peer id`, field)
  }
}

/**
 * Each entry of a list of peer ids, in its canonical spelling, without repeats.
 * @throws InvalidTaskError naming `field[i]` of an entry that is not a peer id
 */
export function canonicalPeerIds(peers: readonly string[], field: string): string[] {
  return [...new Set(peers.map((peer, i) => canonicalPeerId(peer, `${field}[${i}]`)))]
}

import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidTaskError } from '../task/errors.ts'
import { describeValue } from '../util/describe-value.ts'

// the checks of the node's options: each refuses a bad value naming its field and the value

/** Throws `InvalidTaskError` naming `field`: `<what>, got <value>`. */
export function refuse(what: string, value: unknown, field: string): never {
  throw new InvalidTaskError(`${what}, got ${describeValue(value)}`, field)
}

/** `value` when it is an integer from `min` to `max`. @throws InvalidTaskError naming `field` */
export function intFrom(value: unknown, min: number, max: number, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    refuse(`must be an integer from ${min} to ${max}`, value, field)
  return value
}

/** `value` when it is a positive integer. @throws InvalidTaskError naming `field` */
export function positiveInt(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    refuse('must be a positive integer', value, field)
  return value
}

/** `value` when it is a positive finite number up to `max`. @throws InvalidTaskError naming `field` */
export function positiveNumber(value: unknown, field: string, max = Number.MAX_VALUE): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max)
    refuse(
      max === Number.MAX_VALUE ? 'must be a positive number' : `must be a positive number up to ${max}`,
      value,
      field,
    )
  return value
}

/** `value` when it is an integer from 0 to `max`. @throws InvalidTaskError naming `field` */
export function countUpTo(value: unknown, max: number, field: string): number {
  return intFrom(value, 0, max, field)
}

/** `value` when it is one of `allowed`. @throws InvalidTaskError naming `field` and the allowed values */
export function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (!allowed.includes(value as T))
    refuse(`must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`, value, field)
  return value as T
}

/** `value` when it is an array; checks each entry with `entry`, naming it `field[i]`. */
export function listOf(
  value: unknown,
  field: string,
  entry: (item: unknown, field: string) => void,
): unknown[] {
  if (!Array.isArray(value)) refuse('must be an array', value, field)
  for (const [i, item] of value.entries()) entry(item, `${field}[${i}]`)
  return value
}

/** `value` when it is a string of at least one character. @throws InvalidTaskError naming `field` */
export function nonEmptyString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') refuse('must be a non-empty string', value, field)
  return value
}

/** `value` when it is an object (not null, not an array). @throws InvalidTaskError naming `field` */
export function objectValue(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    refuse('must be an object', value, field)
  return value as Record<string, unknown>
}

/** `value` when it is an object with a method of each of `names`. @throws InvalidTaskError naming `field` */
export function withMethods(value: unknown, names: readonly string[], kind: string, field: string): void {
  const ok =
    typeof value === 'object' &&
    value !== null &&
    names.every((n) => typeof (value as Record<string, unknown>)[n] === 'function')
  if (!ok) refuse(`must be ${kind} (with the methods ${names.join(', ')})`, value, field)
}

/**
 * Parses a multiaddr string; with `peer`, it must end in `/p2p/<peer id>`.
 * @throws InvalidTaskError naming `field`, with the multiaddr library's reason
 */
export function multiaddrString(value: unknown, field: string, peer = false): string {
  if (typeof value !== 'string') refuse('must be a multiaddr string', value, field)
  let components: ReturnType<ReturnType<typeof multiaddr>['getComponents']>
  try {
    components = multiaddr(value).getComponents()
  } catch (err) {
    refuse(`is not a multiaddr (${(err as Error).message})`, value, field)
  }
  if (components.length === 0) refuse('is not a multiaddr (it has no protocol)', value, field)
  if (peer) {
    const id = components.findLast((c) => c.name === 'p2p')?.value
    if (id === undefined) refuse('must end in /p2p/<peer id> (the peer to dial)', value, field)
    canonicalPeerId(id, field)
  }
  return value
}

/** A peer id in its canonical string form (what connections report), or an error naming `field`. */
export function canonicalPeerId(value: unknown, field: string): string {
  if (typeof value !== 'string') refuse('must be a peer id string', value, field)
  try {
    return peerIdFromString(value).toString()
  } catch {
    throw new InvalidTaskError(`"${value}" is not a peer id`, field)
  }
}

/**
 * Each entry of a list of peer ids, in its canonical spelling, without repeats.
 * @throws InvalidTaskError naming `field` when it is not an array, `field[i]` of an entry that is not a peer id
 */
export function canonicalPeerIds(peers: readonly unknown[], field: string): string[] {
  listOf(peers, field, () => {})
  return [...new Set(peers.map((peer, i) => canonicalPeerId(peer, `${field}[${i}]`)))]
}

/**
 * The one of `known` that `key` is one edit away from (a letter added, dropped, changed, or two
 * neighbours swapped), if any: what a misspelled option most likely meant.
 */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  return known.find((k) => withinOneEdit(key, k))
}

function withinOneEdit(a: string, b: string): boolean {
  if (a === b || Math.abs(a.length - b.length) > 1) return false
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true // one letter changed
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2) // swapped
  }
  const [short, long] = a.length < b.length ? [a, b] : [b, a]
  return short.slice(i) === long.slice(i + 1)
}

/** The fields of `value` that are not `undefined` (a field set to `undefined` counts as left out). */
export function definedFields<T extends object>(value: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>
}

import { multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError } from 'commander'
import { isPeerIdString } from '../protocol/messages/wire-types.ts'
import { NAME_PATTERN } from '../task/spec.ts'

/** How long a command's `--wait` waits when `--wait-ms` is not given, ms. */
const DEFAULT_WAIT_MS = 600_000

/**
 * The ms `--wait` waits: `--wait-ms`, else {@link DEFAULT_WAIT_MS}.
 * @throws Error when `--wait-ms` is given without `--wait` (it would be ignored)
 */
export function waitMsOf(flags: { wait: boolean; waitMs?: number }): number {
  if (flags.waitMs !== undefined && !flags.wait) throw new Error('--wait-ms applies only with --wait')
  return flags.waitMs ?? DEFAULT_WAIT_MS
}

/** Parses an integer option within `[min, max]`, naming the option and the range when it is not. */
export const int =
  (name: string, min: number, max: number, unit = '') =>
  (value: string): number => {
    const n = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range =
        max === Number.MAX_SAFE_INTEGER
          ? min === 1
            ? 'a positive integer'
            : `an integer >= ${min}`
          : `an integer from ${min} to ${max}`
      throw new InvalidArgumentError(`${name} must be ${range}${unit}, got "${value}"`)
    }
    return n
  }
/** No upper bound, for {@link int}. */
export const ANY = Number.MAX_SAFE_INTEGER

/**
 * Parses a decimal option (a finite number), naming the option when it is not one, or when it is
 * not below `bounds.below` or not above `bounds.above` (each bound excluded).
 */
export const decimal =
  (name: string, bounds: { below?: number; above?: number } = {}) =>
  (value: string): number => {
    const n = /^\s*-?(\d+\.?\d*|\.\d+)\s*$/.test(value) ? Number(value) : Number.NaN
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${value}"`)
    if (bounds.below !== undefined && n >= bounds.below) {
      throw new InvalidArgumentError(`${name} must be below ${bounds.below}, got ${value}`)
    }
    if (bounds.above !== undefined && n <= bounds.above) {
      throw new InvalidArgumentError(`${name} must be above ${bounds.above}, got ${value}`)
    }
    return n
  }

/**
 * Parses a comma-separated list of labels, each checked against the name pattern. An empty value
 * is no labels; an empty item between commas (`a,,b`, `a,`) is refused, naming its place.
 */
export const labelList =
  (name: string) =>
  (value: string): string[] => {
    if (value.trim() === '') return []
    const labels = value.split(',').map((l) => l.trim())
    for (const [i, l] of labels.entries()) {
      if (l === '') {
        throw new InvalidArgumentError(
          `${name} "${value}": item ${i + 1} is empty (labels are separated by single commas)`,
        )
      }
      if (!NAME_PATTERN.test(l)) {
        throw new InvalidArgumentError(`${name}: label "${l}" must match ${NAME_PATTERN} (lowercase)`)
      }
    }
    return labels
  }
/** A commander parser of a repeatable flag: collects the values. */
export const collect = (value: string, previous: string[]) => [...previous, value]

/**
 * A commander parser of a multiaddr flag: the value must parse as a multiaddr, and with `peerId`
 * name the peer (`/p2p/<id>`). Its errors name the flag and the value.
 */
export function multiaddrFlag(flag: string, opts: { peerId: boolean }): (value: string) => string {
  return (value) => {
    let components: Array<{ name: string }>
    try {
      components = multiaddr(value).getComponents()
    } catch (err) {
      throw new InvalidArgumentError(
        `${flag} "${value}" is not a multiaddr (${(err as Error).message}), e.g. /ip4/127.0.0.1/tcp/4010${opts.peerId ? '/p2p/12D3KooW…' : ''}`,
      )
    }
    const p2p = components.findLast((c) => c.name === 'p2p') as { value?: string } | undefined
    if (opts.peerId && p2p === undefined) {
      throw new InvalidArgumentError(
        `${flag} "${value}" has no /p2p/<peer id> part: use an address a daemon prints on its "listening" line`,
      )
    }
    if (p2p?.value !== undefined && !isPeerIdString(p2p.value)) {
      throw new InvalidArgumentError(`${flag} "${value}": "${p2p.value}" is not a peer id`)
    }
    return value
  }
}

/** {@link multiaddrFlag} for a repeatable flag: collects the values. */
export function multiaddrList(flag: string, opts: { peerId: boolean }) {
  const parse = multiaddrFlag(flag, opts)
  return (value: string, previous: string[]): string[] => [...previous, parse(value)]
}

import { MAX_OUTPUT_BYTES, MAX_OUTPUT_DEPTH } from '../task/limits.ts'
import type { Json } from '../task/spec.ts'
import { InvalidOutputError } from './errors.ts'

/** Deepest nesting a handler output may have (its record must pass every peer's validator). */
export { MAX_OUTPUT_DEPTH } from '../task/limits.ts'

/** Most bytes one JSON character can take once encoded (`\u0000` is six). */
const MAX_BYTES_PER_CHAR = 6
/** Most bytes a finite JSON number can take (`-1.2345678901234567e-308`). */
const MAX_NUMBER_BYTES = 24

interface Bounds {
  /** Encoded size is at least this many bytes. */
  low: number
  /** Encoded size is at most this many bytes. */
  high: number
}

/**
 * Checks that a handler's output is plain JSON no larger than `maxBytes` when encoded, and returns
 * it (a top-level `undefined`, as a handler with no `return` gives, becomes `null`).
 *
 * One walk computes lower and upper bounds of the encoded size, so small outputs are never
 * stringified; only an output whose bounds straddle the limit is measured exactly.
 * @throws InvalidOutputError naming the offending path, e.g. `output.items[3] is a function`.
 */
export function checkJsonOutput(value: unknown, maxBytes: number = MAX_OUTPUT_BYTES): Json {
  if (value === undefined) return null
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    if (typeof value === 'string' && value.length * MAX_BYTES_PER_CHAR + 2 > maxBytes)
      measure(value, maxBytes)
    return value
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) invalid('output', value)
    return value
  }
  const bounds: Bounds = { low: 0, high: 0 }
  walk(value, 'output', 0, [], bounds, maxBytes)
  if (bounds.high > maxBytes) measure(value, maxBytes)
  return value as Json
}

function walk(
  value: unknown,
  path: string,
  depth: number,
  ancestors: object[],
  b: Bounds,
  max: number,
): void {
  if (value === null || typeof value === 'boolean') {
    b.low += 4
    b.high += 5
  } else if (typeof value === 'string') {
    b.low += value.length + 2
    b.high += value.length * MAX_BYTES_PER_CHAR + 2
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) invalid(path, value)
    b.low += 1
    b.high += MAX_NUMBER_BYTES
  } else if (Array.isArray(value) || isPlainObject(value)) {
    if (depth >= MAX_OUTPUT_DEPTH) {
      throw new InvalidOutputError(`${path} nests deeper than ${MAX_OUTPUT_DEPTH} levels`)
    }
    if (ancestors.includes(value)) throw new InvalidOutputError(`${path} refers back to itself (a cycle)`)
    ancestors.push(value)
    b.low += 2
    b.high += 2
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        walk(value[i], `${path}[${i}]`, depth + 1, ancestors, b, max)
        b.low += 1
        b.high += 1
      }
    } else {
      for (const key of Object.keys(value)) {
        const child = (value as Record<string, unknown>)[key]
        if (child === undefined) continue
        walk(child, `${path}.${key}`, depth + 1, ancestors, b, max)
        b.low += key.length + 4
        b.high += key.length * MAX_BYTES_PER_CHAR + 4
      }
    }
    ancestors.pop()
  } else {
    invalid(path, value)
  }
  if (b.low > max) tooLarge(max)
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function measure(value: unknown, max: number): void {
  const bytes = Buffer.byteLength(JSON.stringify(value))
  if (bytes > max) throw new InvalidOutputError(`handler output is ${bytes} bytes, over the limit of ${max}`)
}

function tooLarge(max: number): never {
  throw new InvalidOutputError(`handler output is over the limit of ${max} bytes`)
}

function invalid(path: string, value: unknown): never {
  throw new InvalidOutputError(`handler output is not JSON: ${path} is ${describeValue(value)}`)
}

function describeValue(value: unknown): string {
  if (typeof value === 'number') return String(value)
  if (typeof value === 'object' && value !== null) {
    const name = Object.getPrototypeOf(value)?.constructor?.name
    return typeof name === 'string' && name !== '' ? `a ${name}` : 'an exotic object'
  }
  return value === undefined ? 'undefined' : `a ${typeof value}`
}

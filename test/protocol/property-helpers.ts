import fc from 'fast-check'
import { expect } from 'vitest'
import type { z } from 'zod'
import { decodeMessage } from '../../src/protocol/codec.ts'
import { MAX_FRAME_BYTES } from '../../src/protocol/constants.ts'
import { bytesOf, makeNotice, makeNoticeEntry } from './fixtures.ts'

/** What the property tests share: run counts, junk, mutations, a batched notice. */

export const RUNS = 200
const DELETE = Symbol('delete')

/** Arbitrary bytes: random, random text, and random JSON. */
export const junkBytes = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 100 }).map((s) => new TextEncoder().encode(s)),
  fc.jsonValue({ maxDepth: 4 }).map(bytesOf),
)

/** A copy of `value` with one spot, found by following `path`, replaced or deleted. */
function mutate(value: unknown, path: number[], replacement: unknown): unknown {
  const copy = structuredClone(value)
  let container: unknown = copy
  for (let i = 0; ; i++) {
    if (container === null || typeof container !== 'object') return copy
    const keys = Object.keys(container)
    const record = container as Record<string, unknown>
    const step = path[i] ?? 0
    const key =
      keys.length === 0 || step % (keys.length + 1) === keys.length ? 'extra' : keys[step % keys.length]
    const child = record[key]
    if (i === path.length - 1 || child === null || typeof child !== 'object') {
      if (replacement === DELETE) delete record[key]
      else record[key] = replacement
      return copy
    }
    container = child
  }
}

/** Mutations of a valid message: one field replaced by arbitrary JSON, deleted, or added. */
export function mutations(valid: unknown) {
  return fc
    .tuple(
      fc.array(fc.nat({ max: 20 }), { minLength: 1, maxLength: 5 }),
      fc.oneof(fc.constant<unknown>(DELETE), fc.jsonValue({ maxDepth: 2 })),
    )
    .map(([path, replacement]) => mutate(valid, path, replacement))
}

/** A notice of several results (a batch), so mutations reach into its entries. */
export const notice = makeNotice([
  makeNoticeEntry(0),
  makeNoticeEntry(1, { status: 'failed', epoch: 0 }),
  makeNoticeEntry(2, { epoch: 41 }),
])

/** A decoder of steal-session and submit frames by `schema`, as the RPC layer decodes them. */
export const frame =
  <T>(schema: z.ZodType<T>) =>
  (bytes: Uint8Array) =>
    decodeMessage(schema, bytes, MAX_FRAME_BYTES, 'frame')

/**
 * Holds a hand-written fast check to the schema it stands before (see `withFastPath`): over
 * mutations of `valid` as the wire has them (what JSON.parse makes of their text), every value the
 * check passes the schema accepts, unchanged — and the mutations reach values the check refuses
 * while leaving some valid.
 */
export function expectExactOrStricter(
  valid: unknown,
  check: (v: unknown) => boolean,
  schema: z.ZodType,
): void {
  const reparsed = (value: unknown): unknown => JSON.parse(JSON.stringify(value) ?? 'null')
  let accepted = 0
  fc.assert(
    fc.property(mutations(valid).map(reparsed), (value) => {
      if (!check(value)) return
      accepted++
      const parsed = schema.safeParse(value)
      expect(parsed.success).toBe(true)
      expect(parsed.data).toEqual(value)
    }),
    { numRuns: RUNS * 5 },
  )
  expect(accepted).toBeGreaterThan(0)
  expect(accepted).toBeLessThan(RUNS * 5)
}

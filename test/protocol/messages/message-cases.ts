import { expect, it } from 'vitest'
import type { z } from 'zod'
import { decodeMessage, encodeMessage } from '../../../src/protocol/codec.ts'
import { InvalidMessageError } from '../../../src/protocol/errors.ts'
import { makeCompletion, makeTask } from '../fixtures.ts'

/** The task most cases carry, and its id. */
export const task = makeTask()
export const id = task.id
/** A record value as a completion carries it (base64 of a small JSON). */
export const RECORD_B64 = 'eyJhIjoxfQ=='

/** `count` completions of distinct tasks. */
export const completions = (count: number) => Array.from({ length: count }, (_, i) => makeCompletion(i))

/** One refusal case: its name, the schema, the message, and the error text expected (field: issue). */
export type RefusalCase = [string, z.ZodType<unknown>, unknown, string]

/** One test per case: decoding the message throws an InvalidMessageError naming the field. */
export function itRefuses(cases: RefusalCase[]): void {
  it.each(cases)('refuses %s, naming the field', (_name, schema, message, expected) => {
    let error: unknown
    try {
      decodeMessage(schema, encodeMessage(message), 4 * 1024 * 1024, 'message')
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(InvalidMessageError)
    expect((error as Error).message).toContain(`message: ${expected}`)
  })
}

import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { checkJsonShape, decodeMessage, encodeMessage, formatPath } from '../../src/protocol/codec.ts'
import { MAX_JSON_DEPTH } from '../../src/protocol/constants.ts'
import { InvalidMessageError } from '../../src/protocol/errors.ts'

const pointSchema = z.object({ x: z.number(), tags: z.array(z.string()) }).strict()

function refusal(bytes: Uint8Array, maxBytes = 1024): string {
  try {
    decodeMessage(pointSchema, bytes, maxBytes, 'point')
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidMessageError)
    expect((err as InvalidMessageError).code).toBe('ERR_INVALID_MESSAGE')
    return (err as Error).message
  }
  throw new Error('expected a refusal')
}

const text = (s: string) => new TextEncoder().encode(s)

describe('codec', () => {
  it('round-trips a value through encodeMessage/decodeMessage', () => {
    const value = { x: 1.5, tags: ['a', 'é', '🙂'] }
    expect(decodeMessage(pointSchema, encodeMessage(value), 1024, 'point')).toEqual(value)
  })

  it('accepts a Uint8ArrayList split across chunks', () => {
    const bytes = encodeMessage({ x: 2, tags: [] })
    const list = new Uint8ArrayList(bytes.subarray(0, 3), bytes.subarray(3))
    expect(decodeMessage(pointSchema, list, 1024, 'point')).toEqual({ x: 2, tags: [] })
  })

  it.each([
    ['oversized', text('{"x":1,"tags":[]}'), 5, 'point: 17 bytes, over the limit of 5'],
    ['not UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 1024, 'point: not valid UTF-8'],
    ['not JSON', text('{"x":1,'), 1024, 'point: not valid JSON'],
    ['empty', new Uint8Array(0), 1024, 'point: not valid JSON'],
    ['wrong type', text('{"x":"1","tags":[]}'), 1024, 'point: x: expected number, got "1"'],
    ['missing field', text('{"tags":[]}'), 1024, 'point: x: is required: expected number'],
    ['nested path', text('{"x":1,"tags":["a",2]}'), 1024, 'point: tags[1]: expected string, got 2'],
    ['extra key', text('{"x":1,"tags":[],"y":2}'), 1024, 'point: Unrecognized key: "y"'],
    ['not an object', text('[1]'), 1024, 'point: expected object, got [1]'],
    [
      '__proto__ key',
      text('{"x":1,"tags":[],"__proto__":{"x":2}}'),
      1024,
      'point: forbidden key "__proto__"',
    ],
  ])('refuses %s with a message naming the problem', (_name, bytes, max, message) => {
    expect(refusal(bytes, max)).toBe(message)
  })

  it('refuses nesting deeper than MAX_JSON_DEPTH without recursing', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    expect(refusal(text(deep), 1_000_000)).toMatch(/nested deeper than 64 levels/)
    expect(
      checkJsonShape(JSON.parse(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`)),
    ).toBeUndefined()
  })

  it('reports where a __proto__ key sits', () => {
    expect(checkJsonShape(JSON.parse('{"a":[{"__proto__":1}]}'))).toBe('a[0]: forbidden key "__proto__"')
  })

  it('formats zod paths', () => {
    expect(formatPath(['tasks', 2, 'spec', 'type'])).toBe('tasks[2].spec.type')
    expect(formatPath([])).toBe('')
  })

  it('refuses to encode values without a JSON form', () => {
    expect(() => encodeMessage(undefined)).toThrow(InvalidMessageError)
    expect(() => encodeMessage({ n: 1n })).toThrow(InvalidMessageError)
  })
})

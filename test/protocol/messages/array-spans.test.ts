import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { arrayMemberSpans } from '../../../src/protocol/messages/array-spans.ts'

const bytesOf = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'))
/** The elements the spans name, each parsed on its own. */
const elements = (bytes: Uint8Array, spans: number[]) =>
  Array.from({ length: spans.length / 2 }, (_, i) =>
    JSON.parse(Buffer.from(bytes.subarray(spans[2 * i], spans[2 * i + 1])).toString('utf8')),
  )

/** JSON text of `value` with random space between its tokens (JSON.parse's view is unchanged). */
function spaced(value: unknown, space: () => string): string {
  if (Array.isArray(value))
    return `[${space()}${value.map((v) => spaced(v, space)).join(`${space()},${space()}`)}${space()}]`
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value).map(
      ([k, v]) => `${JSON.stringify(k)}${space()}:${space()}${spaced(v, space)}`,
    )
    return `{${space()}${members.join(`${space()},${space()}`)}${space()}}`
  }
  return JSON.stringify(value)
}

// strings full of what the scan must step over: quotes, backslashes, brackets, commas
const unit = fc.constantFrom('"', '\\', '{', '}', '[', ']', ',', ':', 'a', 'é', '💡', '\n')
// long ones too: past the bytes read one by one (16), the rest is searched
const tricky = fc.oneof(fc.string({ unit }), fc.string({ unit, minLength: 12, maxLength: 48 }))
const value = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    tricky,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(
      tricky.filter((k) => k !== '__proto__'),
      tie('json'),
      { maxKeys: 4 },
    ),
  ),
})).json
const space = fc.array(fc.constantFrom('', ' ', '\n', '\t', '\r\n'), { minLength: 64, maxLength: 64 })

describe('arrayMemberSpans', () => {
  it('names each element of the member as JSON.parse reads it, whatever the spacing and the other members', () => {
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 6 }),
        fc.dictionary(
          tricky.filter((k) => k !== 'records' && k !== '__proto__'),
          value,
          { maxKeys: 3 },
        ),
        space,
        (records, others, spaces) => {
          let n = 0
          const text = spaced({ ...others, records, tail: others }, () => spaces[n++ % spaces.length])
          const bytes = bytesOf(text)
          const spans = arrayMemberSpans(bytes, 'records')
          expect(spans).toBeDefined()
          expect(elements(bytes, spans as number[])).toEqual(JSON.parse(text).records)
        },
      ),
    )
  })

  it('takes the last of repeated members, as JSON.parse does', () => {
    const text = '{"records":[1,2],"x":{"records":[9]},"records":[{"a":"]"}, "b"]}'
    const spans = arrayMemberSpans(bytesOf(text), 'records') as number[]
    expect(elements(bytesOf(text), spans)).toEqual([{ a: ']' }, 'b'])
  })

  it('finds an empty member, and nothing when the member is missing or not an array', () => {
    expect(arrayMemberSpans(bytesOf('{"records":[ ]}'), 'records')).toEqual([])
    expect(arrayMemberSpans(bytesOf('{"record":[1]}'), 'records')).toBeUndefined()
    expect(arrayMemberSpans(bytesOf('{"records":{"0":1}}'), 'records')).toBeUndefined()
    expect(arrayMemberSpans(bytesOf('[1,2]'), 'records')).toBeUndefined()
  })

  it('reads a key written with escapes as JSON.parse does', () => {
    const text = '{"records":[1],"rec\\u006frds":[2],"\\"records":[3]}'
    expect(JSON.parse(text).records).toEqual([2])
    expect(elements(bytesOf(text), arrayMemberSpans(bytesOf(text), 'records') as number[])).toEqual([2])
  })
})

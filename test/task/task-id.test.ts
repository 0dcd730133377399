import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { canonicalJson, cidOfDigest, isTaskId, sortedSpec, taskId } from '../../src/task/task-id.ts'

/** The definition: keys of every object sorted by UTF-16 code units, otherwise JSON.stringify. */
function definition(value: unknown): string | undefined {
  if (Array.isArray(value)) return `[${value.map((v) => definition(v) ?? 'null').join(',')}]`
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>
    const entries = Object.keys(obj)
      .sort()
      .flatMap((k) => {
        const text = definition(obj[k])
        return text === undefined ? [] : [`${JSON.stringify(k)}:${text}`]
      })
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value)
}

/** A sorting replacer: agrees with the definition as long as no key is an array index. */
function sortingReplacer(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v
    const sorted: Record<string, unknown> = {}
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k]
    return sorted
  })
}

const indexLike = (key: string) => /^(0|[1-9][0-9]*)$/.test(key)

describe('canonicalJson', () => {
  it('matches its definition on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(value)).toBe(definition(value))
      }),
      { numRuns: 500 },
    )
  })

  it('matches a sorting replacer when no key is an array index, and sorts index keys as strings too', () => {
    // (nor "__proto__", which the replacer's assignment turns into a prototype; the wire refuses it)
    const noIndexKeys = fc.jsonValue().filter((v) => !/"(0|[1-9][0-9]*|__proto__)":/.test(JSON.stringify(v)))
    fc.assert(
      fc.property(noIndexKeys, (value) => {
        expect(canonicalJson(value)).toBe(sortingReplacer(value))
      }),
      { numRuns: 300 },
    )
    // objects list index-like keys first whatever their insertion order; canonical JSON does not
    expect(canonicalJson({ '0': null, '': '', '10': 1, '9': 2 })).toBe('{"":"","0":null,"10":1,"9":2}')
    expect(Object.keys({ '': '', '0': null }).some(indexLike)).toBe(true)
  })

  it('drops undefined and functions in objects, nulls them in arrays, honours toJSON', () => {
    const value = {
      b: [undefined, () => 1, 2, Number.NaN, -0],
      a: { z: 1, y: undefined, x: 'é"\n' },
      d: new Date(0),
      c: null,
    }
    expect(canonicalJson(value)).toBe(
      '{"a":{"x":"é\\"\\n","z":1},"b":[null,null,2,null,0],"c":null,"d":"1970-01-01T00:00:00.000Z"}',
    )
    expect(canonicalJson(undefined)).toBeUndefined()
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError)
  })

  it('writes data whose keys are in order already as its definition does (the native fast path)', () => {
    // a value parsed back from its canonical text lists its keys sorted, but for index-like keys
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const parsed: unknown = JSON.parse(canonicalJson(value))
        expect(canonicalJson(parsed)).toBe(definition(parsed))
      }),
      { numRuns: 500 },
    )
    // sorted keys, but something inside that JSON.stringify writes otherwise: the long way
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: [2] })
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const holey: number[] = [1]
    holey[2] = 3 // index 1 is a hole
    const cases: Array<[unknown, string]> = [
      [bare, '{"a":1,"b":[2]}'],
      [{ a: new Date(0), b: 1 }, '{"a":"1970-01-01T00:00:00.000Z","b":1}'],
      [{ a: { toJSON: () => ({ z: 1, y: 2 }) } }, '{"a":{"y":2,"z":1}}'],
      [{ a: holey }, '{"a":[1,null,3]}'],
      [{ a: [undefined], b: undefined }, '{"a":[null]}'],
      [{ a: new Point(2, 1) }, '{"a":{"x":2,"y":1}}'],
      [{ a: Object.assign(new Point(1, 2), { toJSON: () => ({ b: 2, a: 1 }) }) }, '{"a":{"a":1,"b":2}}'],
      [{ '10': 1, '9': 2 }, '{"10":1,"9":2}'],
      [[{ b: 1, a: 2 }], '[{"a":2,"b":1}]'],
    ]
    for (const [value, text] of cases) {
      expect(canonicalJson(value)).toBe(text)
      expect(definition(JSON.parse(text))).toBe(text)
    }
  })
})

describe('task ids', () => {
  it('cidOfDigest writes what multiformats writes for a CIDv1 raw/sha2-256', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (digest) => {
        const expected = CID.createV1(raw.code, createDigest(sha256.code, digest)).toString()
        expect(cidOfDigest(digest)).toBe(expected)
      }),
      { numRuns: 300 },
    )
  })

  it('an id depends on spec, submitter and nonce, and parses as a task id', () => {
    const spec = parseTaskSpec({ type: 'echo', input: { a: 1 } })
    const id = taskId(spec, 'alice', 'n1')
    expect(isTaskId(id)).toBe(true)
    expect(taskId(spec, 'alice', 'n1')).toBe(id)
    expect(new Set([id, taskId(spec, 'bob', 'n1'), taskId(spec, 'alice', 'n2')]).size).toBe(3)
    expect(isTaskId(`${id.slice(0, -1)}!`)).toBe(false)
  })

  it('an id is the CID of the definition of { nonce, spec, submitter }, whatever order the keys are in', () => {
    const spec = parseTaskSpec({ type: 'echo', input: { z: [1, { b: 2, a: 1 }], a: 'x' }, priority: 3 })
    const sorted = sortedSpec(spec)
    expect(Object.keys(sorted)).toEqual([...Object.keys(spec)].sort())
    expect(Object.keys(sorted.resources)).toEqual([...Object.keys(spec.resources)].sort())
    expect(sorted).toEqual(spec)
    const digest = createHash('sha256')
      .update(definition({ spec, submitter: 'alice', nonce: 'n1' }) ?? '')
      .digest()
    const expected = cidOfDigest(digest)
    expect(taskId(spec, 'alice', 'n1')).toBe(expected)
    expect(taskId(sorted, 'alice', 'n1')).toBe(expected)
  })

  it('recognises the base32 form without parsing exactly as parsing does, whatever one character', () => {
    const parses = (id: string) => {
      try {
        const cid = CID.parse(id)
        return cid.version === 1 && cid.code === raw.code && cid.multihash.code === sha256.code
      } catch {
        return false
      }
    }
    const alphabet = 'abcdefghijklmnopqrstuvwxyz234567B!'
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.nat(58),
        fc.nat(alphabet.length - 1),
        (digest, at, c) => {
          const id = cidOfDigest(digest)
          const bent = `${id.slice(0, at)}${alphabet[c]}${id.slice(at + 1)}`
          for (const s of [id, bent, id.slice(0, -1), id.toUpperCase()])
            expect(isTaskId(s), s).toBe(parses(s))
        },
      ),
      { numRuns: 2000 },
    )
  })
})

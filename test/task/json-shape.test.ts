import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkJsonShape, findJsonShapeProblem } from '../../src/task/json-shape.ts'

/** The rule, written as plainly as possible: nesting deeper than `max`, or a `__proto__` key. */
function hasProblem(v: unknown, depth: number, max: number): boolean {
  if (v === null || typeof v !== 'object') return false
  if (depth >= max) return true
  const children = Array.isArray(v)
    ? v
    : Object.keys(v).map((k) => (k === '__proto__' ? undefined : (v as Record<string, unknown>)[k]))
  if (!Array.isArray(v) && Object.keys(v).includes('__proto__')) return true
  return children.some((c) => hasProblem(c, depth + 1, max))
}

/** Nested JSON text: arrays and objects, some keys `__proto__`, up to `depth` levels. */
const jsonText = (depth: number): fc.Arbitrary<string> =>
  depth === 0
    ? fc.constantFrom('1', '"x"', 'null', 'true')
    : fc.oneof(
        fc.constantFrom('1', '"x"', 'null'),
        fc.array(jsonText(depth - 1), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
        fc
          .array(fc.tuple(fc.constantFrom('a', 'b', '__proto__', 'constructor'), jsonText(depth - 1)), {
            maxLength: 3,
          })
          .map(
            (pairs) => `{${pairs.map(([k, v], i) => `"${k}${k === '__proto__' ? '' : i}":${v}`).join(',')}}`,
          ),
      )

describe('the JSON shape check', () => {
  it('finds a problem exactly when the plain rule does, at any depth limit', () => {
    fc.assert(
      fc.property(jsonText(6), fc.integer({ min: 1, max: 7 }), (text, max) => {
        const value = JSON.parse(text)
        expect(findJsonShapeProblem(value, max) !== undefined).toBe(hasProblem(value, 0, max))
      }),
      { numRuns: 2000 },
    )
  })

  it('still names where the problem is', () => {
    expect(checkJsonShape(JSON.parse('{"a":[1,{"__proto__":{}}]}'))).toBe('a[1]: forbidden key "__proto__"')
    expect(checkJsonShape(JSON.parse('[[[1]]]'), 2)).toBe('[0][0]: nested deeper than 2 levels')
    expect(checkJsonShape({ a: [1, { b: 'fine' }] })).toBeUndefined()
  })

  it('names the first problem in document order', () => {
    const two = JSON.parse('{"a":{"b":[{"__proto__":1}]},"c":[[[[1]]]]}')
    expect(checkJsonShape(two, 4)).toBe('a.b[0]: forbidden key "__proto__"')
    expect(checkJsonShape(JSON.parse('[[[[1]]],{"__proto__":1}]'), 3)).toBe(
      '[0][0][0]: nested deeper than 3 levels',
    )
    expect(checkJsonShape(JSON.parse('[{"__proto__":1},[[[1]]]]'), 3)).toBe('[0]: forbidden key "__proto__"')
  })

  it('walks a value nested to the limit, and refuses one level more', () => {
    const nested = (levels: number) => JSON.parse(`${'['.repeat(levels)}${']'.repeat(levels)}`)
    expect(checkJsonShape(nested(64))).toBeUndefined()
    expect(checkJsonShape(nested(65))).toMatch(/^(\[0\]){64}: nested deeper than 64 levels$/)
  })
})

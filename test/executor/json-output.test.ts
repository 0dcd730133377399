import { describe, expect, it } from 'vitest'
import { InvalidOutputError } from '../../src/executor/errors.ts'
import { checkJsonOutput, MAX_OUTPUT_DEPTH } from '../../src/executor/json-output.ts'
import { MAX_OUTPUT_BYTES } from '../../src/task/limits.ts'

describe('checkJsonOutput', () => {
  it('passes plain JSON through unchanged and turns a missing return into null', () => {
    const value = { a: [1, 2.5, -3e10, 'x', true, null, { b: {} }], 'odd key': 'é' }
    expect(checkJsonOutput(value)).toBe(value)
    expect(checkJsonOutput(Object.assign(Object.create(null), { k: 1 }))).toEqual({ k: 1 })
    expect(checkJsonOutput(undefined)).toBeNull()
    expect(checkJsonOutput('text')).toBe('text')
  })

  it.each([
    ['a function', { f: () => 1 }, 'output.f is a function'],
    ['a bigint', [1n], 'output[0] is a bigint'],
    ['infinity', { deep: [{ n: Number.POSITIVE_INFINITY }] }, 'output.deep[0].n is Infinity'],
    ['a Map', new Map(), 'output is a Map'],
    ['a class instance', { at: new (class Point {})() }, 'output.at is a Point'],
    ['undefined in an array', [undefined], 'output[0] is undefined'],
    ['a symbol', Symbol('s'), 'output is a symbol'],
  ])('names where %s sits', (_name, value, where) => {
    expect(() => checkJsonOutput(value)).toThrow(
      new InvalidOutputError(`handler output is not JSON: ${where}`),
    )
  })

  it('refuses cycles and over-deep nesting', () => {
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = { back: cyclic }
    expect(() => checkJsonOutput(cyclic)).toThrow('output.self.back refers back to itself (a cycle)')
    let deep: unknown = 1
    for (let i = 0; i <= MAX_OUTPUT_DEPTH; i++) deep = [deep]
    expect(() => checkJsonOutput(deep)).toThrow(`nests deeper than ${MAX_OUTPUT_DEPTH} levels`)
  })

  it('allows the same object twice (a DAG is fine JSON)', () => {
    const shared = { v: 1 }
    expect(checkJsonOutput({ a: shared, b: shared })).toEqual({ a: { v: 1 }, b: { v: 1 } })
  })

  it('refuses outputs over the size limit, measuring exactly near it', () => {
    const under = 'x'.repeat(MAX_OUTPUT_BYTES - 2)
    expect(checkJsonOutput(under)).toBe(under)
    expect(() => checkJsonOutput(`${under}y`)).toThrow(
      `handler output is ${MAX_OUTPUT_BYTES + 1} bytes, over the limit of ${MAX_OUTPUT_BYTES}`,
    )
    expect(() => checkJsonOutput({ big: 'x'.repeat(MAX_OUTPUT_BYTES) })).toThrow(InvalidOutputError)
    // Control characters expand sixfold when encoded.
    expect(() => checkJsonOutput(['\u0001'.repeat(MAX_OUTPUT_BYTES / 5)])).toThrow(/over the limit/)
  })

  it('stops early on a huge shared structure instead of walking it all', () => {
    let node: unknown = 'x'.repeat(1024)
    for (let i = 0; i < 60; i++) node = [node, node] // 2^60 leaves if expanded
    expect(() => checkJsonOutput(node)).toThrow(/over the limit/)
  })
})

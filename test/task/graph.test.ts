import { describe, expect, it } from 'vitest'
import { InvalidTaskError } from '../../src/task/errors.ts'
import { type GraphItem, orderGraph } from '../../src/task/graph.ts'

const g = (spec: Record<string, string[]>): GraphItem[] =>
  Object.entries(spec).map(([key, dependsOn]) => ({ key, dependsOn }))
const none = () => false

function refused(items: GraphItem[], known: (ref: string) => boolean = none): InvalidTaskError {
  try {
    orderGraph(items, known)
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidTaskError)
    return err as InvalidTaskError
  }
  throw new Error('expected the graph to be refused')
}

describe('orderGraph', () => {
  it.each([
    ['independent tasks keep submission order', { a: [], b: [], c: [] }, ['a', 'b', 'c']],
    ['a chain runs dependencies first', { c: ['b'], b: ['a'], a: [] }, ['a', 'b', 'c']],
    ['a diamond', { d: ['b', 'c'], b: ['a'], c: ['a'], a: [] }, ['a', 'b', 'c', 'd']],
  ])('%s', (_name, spec, expected) => {
    const items = g(spec)
    expect(orderGraph(items, none).map((i) => items[i].key)).toEqual(expected)
  })

  it('accepts references to known task ids outside the submission', () => {
    const items = g({ a: ['existing-id'] })
    expect(orderGraph(items, (ref) => ref === 'existing-id')).toEqual([0])
  })

  it.each([
    ['a two-task cycle', { a: ['b'], b: ['a'] }, /dependency cycle: (a → b → a|b → a → b)/],
    [
      'a longer cycle behind a good task',
      { ok: [], x: ['z'], y: ['x'], z: ['y'] },
      /dependency cycle: .*x.*y.*z|dependency cycle: .*z.*y.*x/,
    ],
    ['a self-reference', { a: ['a'] }, /task "a" depends on itself/],
    [
      'a dangling reference',
      { a: [], b: ['nope'] },
      /"nope" is neither a key in this submission nor a known task id/,
    ],
  ])('refuses %s, naming the offending task', (_name, spec, message) => {
    const err = refused(g(spec))
    expect(err.message).toMatch(message)
    expect(err.field).toMatch(/^tasks\[\d+\]\.dependsOn/)
  })

  it('names the field of a dangling reference exactly', () => {
    expect(refused(g({ a: [], b: ['a', 'ghost'] })).field).toBe('tasks[1].dependsOn[1]')
  })

  it('refuses duplicate keys', () => {
    const err = refused([
      { key: 'a', dependsOn: [] },
      { key: 'a', dependsOn: [] },
    ])
    expect(err.field).toBe('tasks[1].key')
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { prepareSubmission } from '../../src/node/owner/submission.ts'
import { taskSchema } from '../../src/protocol/messages/task-schema.ts'
import { filledTaskSpecSchema } from '../../src/protocol/messages/wire-types.ts'
import { InvalidTaskError, UnknownHandlerError } from '../../src/task/errors.ts'
import { type GraphItem, orderGraph } from '../../src/task/graph.ts'
import { MAX_JSON_DEPTH } from '../../src/task/json-shape.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { anyJson, anySpecInput } from '../protocol/arbitraries.ts'

/**
 * Fuzzing of what a submitter sends: task specs and graphs. Anything is either accepted as a
 * valid, complete spec or graph, or refused with the documented error naming the field — never
 * another error; an accepted graph is ordered dependencies first and a refused one really is bad.
 */

const RUNS = 150

/** A spec input with one field replaced, deleted or added (arbitrary JSON). */
const changedSpec = fc
  .tuple(
    anySpecInput,
    fc.constantFrom(
      'type',
      'input',
      'priority',
      'resources',
      'timeoutMs',
      'maxAttempts',
      'dependsOn',
      'extra',
    ),
    fc.option(anyJson, { nil: undefined }),
  )
  .map(([spec, field, value]) => {
    const copy: Record<string, unknown> = { ...spec }
    if (value === undefined) delete copy[field]
    else copy[field] = value
    return copy
  })

describe('fuzzing task specs', () => {
  it('a valid spec input is accepted, keeps every field it gave, and is complete for the wire', () => {
    fc.assert(
      fc.property(anySpecInput, (input) => {
        const spec = parseTaskSpec(input)
        for (const [field, value] of Object.entries(input)) {
          if (field === 'resources') expect(spec.resources).toMatchObject(value as object)
          else expect(spec[field as keyof typeof spec]).toEqual(value)
        }
        expect(filledTaskSpecSchema.safeParse(spec).success).toBe(true)
        expect(parseTaskSpec(spec)).toEqual(spec) // filling defaults again changes nothing
      }),
      { numRuns: RUNS },
    )
  })

  it('anything else is accepted the same way or refused with InvalidTaskError naming a field of the task', () => {
    fc.assert(
      fc.property(fc.oneof(changedSpec, anyJson), (raw) => {
        let spec: ReturnType<typeof parseTaskSpec>
        try {
          spec = parseTaskSpec(raw)
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidTaskError)
          expect((err as InvalidTaskError).field).toMatch(/^task(\.|$)/)
          expect((err as Error).message).toMatch(/^task/)
          return
        }
        expect(filledTaskSpecSchema.safeParse(spec).success).toBe(true)
      }),
      { numRuns: RUNS * 2 },
    )
  })
})

describe('what a schema cannot see', () => {
  it('refuses nesting deeper than MAX_JSON_DEPTH (at any depth, without recursing) and `__proto__` keys, naming where', () => {
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = [deep]
    // the spec is level 0, its input level 1: the 64th level down is the one refused
    expect(() => parseTaskSpec({ type: 'echo', input: deep })).toThrow(
      `task.input${'[0]'.repeat(MAX_JSON_DEPTH - 1)}: nested deeper than ${MAX_JSON_DEPTH} levels`,
    )
    expect(() => parseTaskSpec({ type: 'echo', input: deep })).toThrow(InvalidTaskError)
    const proto = JSON.parse('{"type":"echo","input":{"a":[{"__proto__":{"admin":true}}]}}')
    expect(() => parseTaskSpec(proto, 'tasks[3]')).toThrow('tasks[3].input.a[0]: forbidden key "__proto__"')
    expect(() => parseTaskSpec(JSON.parse('{"type":"echo","__proto__":{}}'))).toThrow(
      'task: forbidden key "__proto__"',
    )
  })
})

/** Keys from a small alphabet (so references hit), and ids that may be known. */
const anyGraph = fc.array(
  fc.record({
    key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
    dependsOn: fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'known-id', 'unknown-id'), {
      maxLength: 3,
    }),
  }),
  { minLength: 1, maxLength: 6 },
)
const isKnownId = (ref: string) => ref === 'known-id'

/** What is wrong with a graph, found independently of `orderGraph`: its first flaw by kind, or `ok`. */
function flaw(items: GraphItem[]): 'duplicate' | 'self' | 'dangling' | 'cycle' | 'ok' {
  const keys = items.map((i) => i.key)
  if (new Set(keys).size !== keys.length) return 'duplicate'
  if (items.some((i) => i.dependsOn.includes(i.key))) return 'self'
  if (items.some((i) => i.dependsOn.some((r) => !keys.includes(r) && !isKnownId(r)))) return 'dangling'
  // depth-first search for a back edge
  const state = new Map<string, 'open' | 'done'>()
  const deps = new Map(items.map((i) => [i.key, i.dependsOn.filter((r) => keys.includes(r))]))
  const cyclic = (k: string): boolean => {
    if (state.get(k) === 'done') return false
    if (state.get(k) === 'open') return true
    state.set(k, 'open')
    const found = (deps.get(k) ?? []).some(cyclic)
    state.set(k, 'done')
    return found
  }
  return keys.some(cyclic) ? 'cycle' : 'ok'
}

describe('fuzzing task graphs', () => {
  it('orderGraph orders every sound graph dependencies first, and refuses exactly the flawed ones, saying why', () => {
    fc.assert(
      fc.property(anyGraph, (items) => {
        const expected = flaw(items)
        let order: number[]
        try {
          order = orderGraph(items, isKnownId)
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidTaskError)
          const message = (err as Error).message
          const said = /duplicate key/.test(message)
            ? 'duplicate'
            : /depends on itself/.test(message)
              ? 'self'
              : /neither a key/.test(message)
                ? 'dangling'
                : /dependency cycle/.test(message)
                  ? 'cycle'
                  : message
          // the flaw it names is one the independent check sees (duplicates are looked for first,
          // then self-references and dangling references item by item, cycles last)
          if (said === 'duplicate' || expected === 'duplicate') expect(said).toBe(expected)
          else if (said === 'cycle') expect(expected).toBe('cycle')
          else expect(['self', 'dangling']).toContain(expected)
          return
        }
        expect(expected).toBe('ok')
        expect([...order].sort((x, y) => x - y)).toEqual(items.map((_, i) => i))
        const position = new Map<string, number>(order.map((index, at) => [items[index].key, at]))
        items.forEach((item) => {
          for (const ref of item.dependsOn) {
            if (position.has(ref)) expect(position.get(ref)).toBeLessThan(position.get(item.key) ?? -1)
          }
        })
      }),
      { numRuns: RUNS * 2 },
    )
  })

  it('prepareSubmission accepts or refuses a whole arbitrary submission with the documented errors only; accepted tasks are complete and name ids, never keys', () => {
    const item = fc.oneof(
      anySpecInput.map((s) => ({ ...s, type: 'echo', dependsOn: [] })),
      fc.record({
        key: fc.constantFrom('a', 'b', 'c'),
        type: fc.constantFrom('echo', 'nope'),
        dependsOn: fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 2 }),
      }),
      anyJson,
    )
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 5 }), (items) => {
        let prepared: ReturnType<typeof prepareSubmission>
        try {
          prepared = prepareSubmission(items, {
            submitter: 'fuzz',
            owner: '12D3KooWRawPbxPtP1eZaJpumGnyWX2DcUyd3RQnydr3eAto4Az7',
            now: 1_700_000_000_000,
            random: () => 0.5,
            knowsType: (type) => type === 'echo',
            isKnownId: () => false,
          })
        } catch (err) {
          expect([InvalidTaskError, UnknownHandlerError].some((E) => err instanceof E)).toBe(true)
          expect((err as { field?: string }).field).toMatch(/^tasks?(\[\d+\])?(\.|$)/)
          return
        }
        expect(prepared.tasks).toHaveLength(items.length)
        const ids = new Set(prepared.tasks.map((t) => t.task.id))
        for (const { task } of prepared.tasks) {
          expect(taskSchema.safeParse(task).success).toBe(true)
          for (const dep of task.spec.dependsOn) expect(ids.has(dep)).toBe(true)
        }
      }),
      { numRuns: RUNS },
    )
  })
})

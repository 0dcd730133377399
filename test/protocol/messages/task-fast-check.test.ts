import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeMessage } from '../../../src/protocol/codec.ts'
import { decodeCustodyFrame } from '../../../src/protocol/messages/custody-messages.ts'
import { isWellFormedTask } from '../../../src/protocol/messages/task-fast-check.ts'
import { taskSchema } from '../../../src/protocol/messages/task-schema.ts'
import { fullTaskSchema } from '../../../src/protocol/messages/wire-types.ts'
import { issueMessage } from '../../../src/task/spec.ts'
import { holdOf, makeTask } from '../fixtures.ts'

/** Paths into a task where a mutation may land. */
const PATHS = [
  [],
  ['id'],
  ['submitter'],
  ['nonce'],
  ['owner'],
  ['submittedAt'],
  ['spec'],
  ['spec', 'type'],
  ['spec', 'input'],
  ['spec', 'priority'],
  ['spec', 'timeoutMs'],
  ['spec', 'maxAttempts'],
  ['spec', 'dependsOn'],
  ['spec', 'resources'],
  ['spec', 'resources', 'slots'],
  ['spec', 'resources', 'memoryMb'],
  ['spec', 'resources', 'labels'],
]

/** Values at and around every bound the schema has, and junk. */
const edgeValue = fc.oneof(
  fc.constantFrom(0, -1, 1, 1.5, -0, 1000, 1001, -1000, -1001, 1024, 1025, 100, 101, 86_400_000, 86_400_001),
  fc.constantFrom(
    16 * 1024 * 1024,
    16 * 1024 * 1024 + 1,
    8_640_000_000_000_000,
    8_640_000_000_000_001,
    Number.NaN,
  ),
  fc.constantFrom('', 'gpu', 'GPU', 'a'.repeat(64), 'a'.repeat(65), '-x', 'x'.repeat(129), 'x'.repeat(257)),
  fc.constantFrom(null, true, [], {}, ['gpu'], ['GPU'], [''], { __proto__: null, a: 1 }),
  fc.array(fc.constantFrom('gpu', 'a', 'B', ''), { maxLength: 40 }),
  fc.jsonValue(),
  fc.anything(),
)

type Mutation = { path: string[]; kind: 'set' | 'delete' | 'extra'; value: unknown }

const mutation: fc.Arbitrary<Mutation> = fc.record({
  path: fc.constantFrom(...PATHS),
  kind: fc.constantFrom('set', 'delete', 'extra'),
  value: edgeValue,
})

function mutate(mutations: Mutation[]): unknown {
  const task: Record<string, unknown> = JSON.parse(JSON.stringify(makeTask(3)))
  for (const { path, kind, value } of mutations) {
    let target: Record<string, unknown> = task
    for (const key of path.slice(0, -1)) {
      const next = target[key]
      if (typeof next !== 'object' || next === null) return task
      target = next as Record<string, unknown>
    }
    const last = path.at(-1)
    if (kind === 'extra') {
      const holder = last === undefined ? target : target[last]
      if (typeof holder === 'object' && holder !== null) (holder as Record<string, unknown>).extra = value
    } else if (last === undefined) {
      return value
    } else if (kind === 'delete') {
      delete target[last]
    } else {
      target[last] = value
    }
  }
  return task
}

const noProto = fc.jsonValue({ maxDepth: 5 }).filter((v) => !JSON.stringify(v).includes('"__proto__":'))

describe('the fast task check', () => {
  it('is sound: it accepts nothing the task schema refuses', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (mutations) => {
        const value = mutate(mutations)
        if (isWellFormedTask(value)) expect(fullTaskSchema.safeParse(value).success).toBe(true)
      }),
      { numRuns: 3000 },
    )
  })

  it('takes the fast path for well-formed tasks, whatever their input', () => {
    fc.assert(
      // ("__proto__" keys aside: the wire refuses them before any schema, and so does the fast check)
      fc.property(noProto, fc.integer({ min: -1000, max: 1000 }), (input, priority) => {
        const task = JSON.parse(JSON.stringify(makeTask(4)))
        task.spec.input = input
        task.spec.priority = priority
        expect(isWellFormedTask(task)).toBe(fullTaskSchema.safeParse(task).success)
      }),
      { numRuns: 300 },
    )
    expect(isWellFormedTask(JSON.parse(JSON.stringify(makeTask(5))))).toBe(true)
  })

  it('taskSchema reports what fullTaskSchema reports, at the same path', () => {
    const bad = JSON.parse(JSON.stringify(makeTask(6)))
    bad.spec.resources.labels = ['GPU']
    const fast = taskSchema.safeParse(bad)
    const full = fullTaskSchema.safeParse(bad)
    expect(fast.success).toBe(false)
    // the same issues at the same paths, the fast path's saying the value refused
    expect(fast.error?.issues.map((i) => [i.path, i.message])).toEqual(
      full.error?.issues.map((i) => [i.path, issueMessage(i, bad)]),
    )
    expect(() => decodeCustodyFrame(encodeMessage(holdOf([makeTask(1), bad])))).toThrow(
      'custody frame: tasks[1].spec.resources.labels[0]: must match [a-z0-9][a-z0-9._:/-]{0,63}, got "GPU"',
    )
  })
})

import { describe, expect, it } from 'vitest'
import {
  parseGraphItem,
  prepareSubmission,
  prepareSubmissionInTurns,
  SUBMISSION_TURN_ITEMS,
  type SubmissionContext,
} from '../../../src/node/owner/submission.ts'
import { asSingleSpecError, InvalidTaskError, UnknownHandlerError } from '../../../src/task/errors.ts'
import { taskId } from '../../../src/task/task-id.ts'

const EXISTING = 'bafkreid4hcai5oopfx7op22mh7hx3ei4yjtbif4oivw2djwcxp7s5glmxm'

function ctx(over: Partial<SubmissionContext> = {}): SubmissionContext {
  return {
    submitter: 'me',
    owner: 'owner',
    now: 1_700_000_000_000,
    random: () => 0.5,
    knowsType: (t) => t === 'echo' || t === 'sleep',
    isKnownId: (id) => id === EXISTING,
    ...over,
  }
}

function refusal(fn: () => unknown): InvalidTaskError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidTaskError)
    return err as InvalidTaskError
  }
  throw new Error('expected a refusal')
}

describe('parseGraphItem', () => {
  it('takes the key off and validates the rest as a spec', () => {
    const item = parseGraphItem({ key: 'a', type: 'echo', input: 1 }, 'tasks[0]')
    expect(item.key).toBe('a')
    expect(item.spec).toMatchObject({ type: 'echo', input: 1, dependsOn: [] })
    expect(parseGraphItem({ type: 'echo' }, 'task').key).toBeUndefined()
  })

  it('refuses a bad key naming the field, and a bad spec as parseTaskSpec does', () => {
    expect(refusal(() => parseGraphItem({ key: '', type: 'echo' }, 'tasks[2]')).field).toBe('tasks[2].key')
    expect(refusal(() => parseGraphItem({ key: 7, type: 'echo' }, 'tasks[2]')).field).toBe('tasks[2].key')
    expect(refusal(() => parseGraphItem({ key: 'a\nb', type: 'echo' }, 'tasks[0]')).field).toBe(
      'tasks[0].key',
    )
    expect(refusal(() => parseGraphItem({ key: 'a', type: 'echo', bogus: 1 }, 'tasks[1]')).message).toMatch(
      /^tasks\[1\]/,
    )
  })
})

describe('prepareSubmission', () => {
  it("refuses an input its handler's check finds wrong, or whose check throws, naming the input", () => {
    const checkInput = (type: string, input: unknown) => {
      if (input === 'boom') throw new Error('check broke')
      return type === 'sleep' && input === -5 ? 'sleep: input must be a number ≥ 0' : undefined
    }
    const bad = () => prepareSubmission([{ type: 'sleep', input: -5 }], ctx({ checkInput }))
    expect(bad).toThrow(InvalidTaskError)
    expect(bad).toThrow('sleep: input must be a number ≥ 0')
    const broken = () =>
      prepareSubmission([{ type: 'echo' }, { type: 'echo', input: 'boom' }], ctx({ checkInput }))
    expect(broken).toThrow('echo: its input check failed: check broke')
    try {
      broken()
    } catch (err) {
      expect((err as InvalidTaskError).field).toBe('tasks[1].input')
    }
    expect(prepareSubmission([{ type: 'sleep', input: 5 }], ctx({ checkInput })).tasks).toHaveLength(1)
  })

  it('keeps plain specs in order, independent, with distinct ids', () => {
    const { tasks, order } = prepareSubmission(
      [
        { type: 'echo', input: 1 },
        { type: 'echo', input: 2 },
      ],
      ctx(),
    )
    expect(order).toEqual([0, 1])
    expect(tasks.map((t) => t.task.spec.input)).toEqual([1, 2])
    expect(new Set(tasks.map((t) => t.task.id)).size).toBe(2)
    for (const { task } of tasks) expect(task.owner).toBe('owner')
  })

  it('replaces keys by ids, dependencies first, so each id covers the ids it depends on', () => {
    const items = [
      { key: 'join', type: 'echo', dependsOn: ['left', 'right'] },
      { key: 'left', type: 'echo', dependsOn: ['root'] },
      { key: 'right', type: 'echo', dependsOn: ['root', EXISTING] },
      { key: 'root', type: 'echo' },
    ]
    const { tasks, order } = prepareSubmission(items, ctx())
    const byKey = Object.fromEntries(tasks.map((t) => [t.key, t.task]))
    expect(order.indexOf(3)).toBeLessThan(order.indexOf(1))
    expect(order.indexOf(2)).toBeLessThan(order.indexOf(0))
    expect(byKey.join.spec.dependsOn).toEqual([byKey.left.id, byKey.right.id])
    expect(byKey.left.spec.dependsOn).toEqual([byKey.root.id])
    expect(byKey.right.spec.dependsOn).toEqual([byKey.root.id, EXISTING])
    expect(tasks.map((t) => t.key)).toEqual(['join', 'left', 'right', 'root'])
    for (const { task } of tasks) expect(task.id).toBe(taskId(task.spec, task.submitter, task.nonce))
  })

  it('refuses a cycle naming its keys, a dangling reference and a duplicate key', () => {
    const cycle = refusal(() =>
      prepareSubmission(
        [
          { key: 'p', type: 'echo', dependsOn: ['q'] },
          { key: 'q', type: 'echo', dependsOn: ['p'] },
        ],
        ctx(),
      ),
    )
    expect(cycle.message).toMatch(/dependency cycle: (p → q → p|q → p → q)/)
    expect(cycle.field).toMatch(/^tasks\[[01]\]\.dependsOn$/)
    const dangling = refusal(() =>
      prepareSubmission([{ type: 'echo' }, { key: 'b', type: 'echo', dependsOn: ['nope'] }], ctx()),
    )
    expect(dangling.field).toBe('tasks[1].dependsOn[0]')
    expect(dangling.message).toContain('"nope" is neither a key in this submission nor a known task id')
    const dup = refusal(() =>
      prepareSubmission(
        [
          { key: 'a', type: 'echo' },
          { key: 'a', type: 'echo' },
        ],
        ctx(),
      ),
    )
    expect(dup.field).toBe('tasks[1].key')
  })

  it('names a list of one `tasks[0]` (re-worded `task` for one spec), and accepts a known task id as a dependency', () => {
    const err = refusal(() => prepareSubmission([{ type: 'echo', dependsOn: ['x'] }], ctx()))
    expect(err.field).toBe('tasks[0].dependsOn[0]')
    const single = asSingleSpecError(err) as InvalidTaskError
    expect(single.field).toBe('task.dependsOn[0]')
    expect(single.message).toMatch(/^task\.dependsOn\[0\]: "x" is neither/)
    const { tasks } = prepareSubmission([{ type: 'echo', dependsOn: [EXISTING] }], ctx())
    expect(tasks[0].task.spec.dependsOn).toEqual([EXISTING])
  })

  it('refuses an unknown handler type naming the item', () => {
    expect(() => prepareSubmission([{ type: 'echo' }, { type: 'gpu-render' }], ctx())).toThrow(
      UnknownHandlerError,
    )
    expect(() => prepareSubmission([{ type: 'echo' }, { type: 'gpu-render' }], ctx())).toThrow(
      'tasks[1].type: unknown handler type "gpu-render"',
    )
  })

  it('lists the handler types in reach with an unknown type, the first 20, and keeps them in one spec', () => {
    const types = Array.from({ length: 25 }, (_, i) => `t${String(i).padStart(2, '0')}`)
    let err: unknown
    try {
      prepareSubmission([{ type: 'gpu-render' }], ctx({ knownTypes: () => types }))
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(UnknownHandlerError)
    const listed = `(handler types in reach: ${types.slice(0, 20).join(', ')}, and 5 more)`
    expect((err as Error).message).toBe(`tasks[0].type: unknown handler type "gpu-render" ${listed}`)
    const single = asSingleSpecError(err) as UnknownHandlerError
    expect(single).toBeInstanceOf(UnknownHandlerError)
    expect(single.message).toBe(`task.type: unknown handler type "gpu-render" ${listed}`)
  })
})

describe('prepareSubmissionInTurns', () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, type: 'echo', input: i }))

  it('gives the event loop turns during a large submission and answers as prepareSubmission does', async () => {
    const items = many(4 * SUBMISSION_TURN_ITEMS)
    // something else waiting on the event loop gets a turn at each pause
    let turns = 0
    let other: NodeJS.Immediate | undefined
    const spin = () => {
      turns++
      other = setImmediate(spin)
    }
    other = setImmediate(spin)
    const inTurns = await prepareSubmissionInTurns(items, ctx())
    clearImmediate(other)
    expect(turns).toBeGreaterThanOrEqual(3)
    expect(inTurns).toEqual(prepareSubmission(items, ctx()))
  })

  it('takes no turn for a small submission, and refuses a bad item anywhere, naming it', async () => {
    let turned = false
    setImmediate(() => {
      turned = true
    })
    await prepareSubmissionInTurns(many(SUBMISSION_TURN_ITEMS), ctx())
    expect(turned).toBe(false)
    const items: unknown[] = many(3 * SUBMISSION_TURN_ITEMS)
    items[2 * SUBMISSION_TURN_ITEMS + 5] = { type: 'echo', bogus: 1 }
    await expect(prepareSubmissionInTurns(items, ctx())).rejects.toThrow(
      new RegExp(`^tasks\\[${2 * SUBMISSION_TURN_ITEMS + 5}\\]`),
    )
  })
})

describe('nonces', () => {
  it('are the acceptance time and 52 random bits, both in base 36: each draw its own nonce', () => {
    const draws = [0, 0, 0.999_999_999, 0.999_999_999, 0.25, 0.5]
    const { tasks } = prepareSubmission(
      [{ type: 'echo' }, { type: 'echo' }, { type: 'echo' }],
      ctx({ random: () => draws.shift() ?? Number.NaN }),
    )
    const now = (1_700_000_000_000).toString(36)
    expect(tasks.map(({ task }) => task.nonce)).toEqual([
      `${now}-0000000`,
      `${now}-13ydj313ydj3`, // 2^26 - 1 twice
      `${now}-${(2 ** 24).toString(36)}${(2 ** 25).toString(36).padStart(6, '0')}`,
    ])
    const many = prepareSubmission(
      Array.from({ length: 2000 }, () => ({ type: 'echo' })),
      ctx({ random: Math.random }),
    )
    expect(new Set(many.tasks.map(({ task }) => task.id)).size).toBe(2000)
  })
})

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { InvalidTaskError, UnknownHandlerError } from '../../src/task/errors.ts'
import { MAX_INPUT_BYTES } from '../../src/task/limits.ts'
import type { TaskSpecInput } from '../../src/task/spec.ts'
import { sleepSpec, waitFor } from './helpers.ts'

type ErrorClass = typeof InvalidTaskError | typeof UnknownHandlerError

interface BadCase {
  name: string
  /** One spec, given to `submit` (its errors name `task…`). */
  spec?: unknown
  /** A list, given to `submitMany` (its errors name `tasks[i]…`, even in a list of one). */
  specs?: unknown[]
  error: ErrorClass
  /** The path the error must name. */
  field: string
  /** Text the message must contain (what is wrong). */
  says?: RegExp
}

const ok = { type: 'echo', input: 'fine' }

const CASES: BadCase[] = [
  {
    name: 'an unknown handler type',
    spec: { type: 'no-such-handler' },
    error: UnknownHandlerError,
    field: 'task.type',
    says: /"no-such-handler" \(handler types in reach: echo, fail, noop, sha256, sleep\)$/,
  },
  {
    name: 'a zero timeout',
    spec: { type: 'echo', timeoutMs: 0 },
    error: InvalidTaskError,
    field: 'task.timeoutMs',
  },
  {
    name: 'a negative timeout',
    spec: { type: 'echo', timeoutMs: -5 },
    error: InvalidTaskError,
    field: 'task.timeoutMs',
  },
  {
    name: 'a priority above the range',
    spec: { type: 'echo', priority: 1001 },
    error: InvalidTaskError,
    field: 'task.priority',
  },
  {
    name: 'a priority below the range',
    spec: { type: 'echo', priority: -1001 },
    error: InvalidTaskError,
    field: 'task.priority',
  },
  {
    name: 'a field the spec does not have',
    spec: { type: 'echo', colour: 'red' },
    error: InvalidTaskError,
    field: 'task',
    says: /colour/,
  },
  {
    name: 'a string instead of an object',
    spec: 'echo',
    error: InvalidTaskError,
    field: 'task',
    says: /object/,
  },
  {
    name: 'null instead of an object',
    spec: null,
    error: InvalidTaskError,
    field: 'task',
    says: /object/,
  },
  {
    name: 'an array instead of an object',
    spec: [ok],
    error: InvalidTaskError,
    field: 'task',
    says: /object/,
  },
  {
    name: 'an input over the size limit',
    spec: { type: 'echo', input: 'x'.repeat(MAX_INPUT_BYTES) },
    error: InvalidTaskError,
    field: 'task.input',
    says: new RegExp(`${MAX_INPUT_BYTES}`),
  },
  { name: 'an empty list', specs: [], error: InvalidTaskError, field: 'tasks' },
  {
    name: 'a list of one whose spec has a zero timeout',
    specs: [{ type: 'echo', timeoutMs: 0 }],
    error: InvalidTaskError,
    field: 'tasks[0].timeoutMs',
  },
  {
    name: 'a batch whose third spec has a bad timeout',
    specs: [ok, ok, { type: 'echo', timeoutMs: -1 }, ok],
    error: InvalidTaskError,
    field: 'tasks[2].timeoutMs',
  },
  {
    name: 'a batch whose second spec names an unknown handler',
    specs: [ok, { type: 'nope' }, ok],
    error: UnknownHandlerError,
    field: 'tasks[1].type',
    says: /nope/,
  },
  {
    name: 'a batch of 300, checked over several turns of the event loop, whose 251st spec is bad',
    specs: Array.from({ length: 300 }, (_, i) => (i === 250 ? { type: 'echo', timeoutMs: 0 } : ok)),
    error: InvalidTaskError,
    field: 'tasks[250].timeoutMs',
  },
  {
    name: 'a batch whose last spec has an oversized input',
    specs: [ok, ok, { type: 'echo', input: { blob: 'y'.repeat(MAX_INPUT_BYTES) } }],
    error: InvalidTaskError,
    field: 'tasks[2].input',
  },
]

describe('bad submissions are refused with a clear error and change nothing', () => {
  let node: TaskmeshNode | undefined
  /** Queued tasks before any bad submission. */
  const QUEUED = 2

  beforeEach(async () => {
    // One slot, busy with a long task, and QUEUED more waiting: any task a bad submission let
    // through would show in `queued`.
    node = await TaskmeshNode.create({ slots: 1 })
    await node.submitMany(Array.from({ length: QUEUED + 1 }, () => sleepSpec(60_000)))
    await waitFor(() => node!.status().running === 1, 5_000, 'the blocking task did not start')
  })

  afterEach(async () => {
    await node?.stop()
    node = undefined
  })

  it.each(CASES)('$name → $error.name naming $field', async ({ spec, specs, error, field, says }) => {
    const n = node!
    const before = n.status()
    expect(before.queued).toBe(QUEUED)

    const submitting = specs === undefined ? n.submit(spec as TaskSpecInput) : n.submitMany(specs)
    const err = await submitting.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err, 'the submission was accepted').toBeInstanceOf(error)
    const e = err as InvalidTaskError | UnknownHandlerError
    expect(e.field).toBe(field)
    expect(e.message.startsWith(`${field}: `), e.message).toBe(true)
    if (says !== undefined) expect(e.message).toMatch(says)

    const after = n.status()
    expect(after.queued).toBe(QUEUED)
    expect(after.running).toBe(1)
    expect(after.counters.accepted).toBe(before.counters.accepted)
  })

  it('submit() of one bad spec rejects the same way', async () => {
    const n = node!
    await expect(n.submit({ type: 'echo', maxAttempts: 0 })).rejects.toMatchObject({
      name: 'InvalidTaskError',
      field: 'task.maxAttempts',
    })
    expect(n.status().queued).toBe(QUEUED)
  })

  it('a large batch still being checked when the node begins to drain is refused whole', async () => {
    const n = node!
    const before = n.status()
    const submission = n.submitMany(Array.from({ length: 600 }, () => ok))
    const stopping = n.stop({ drainTimeoutMs: 60_000 }) // the node drains while the batch is checked
    await expect(submission).rejects.toThrow(/draining/)
    expect(n.status().queued).toBe(QUEUED)
    expect(n.status().counters.accepted).toBe(before.counters.accepted)
    await n.stop() // a second call ends the drain
    await stopping
    node = undefined
  })

  it('a good batch after the refusals is accepted whole (the control)', async () => {
    const n = node!
    await expect(n.submitMany([ok, { type: 'nope' }])).rejects.toBeInstanceOf(UnknownHandlerError)
    const handles = await n.submitMany([ok, ok, ok])
    expect(handles).toHaveLength(3)
    expect(n.status().queued).toBe(QUEUED + 3)
  })
})

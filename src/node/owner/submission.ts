import { InvalidTaskError, UnknownHandlerError } from '../../task/errors.ts'
import { orderGraph } from '../../task/graph.ts'
import { MAX_TASKS_PER_SUBMISSION } from '../../task/limits.ts'
import { type Json, parseTaskSpec, type TaskSpec, type TaskSpecInput } from '../../task/spec.ts'
import type { Task } from '../../task/task.ts'
import { sortedSpec, taskId } from '../../task/task-id.ts'
import { nextTurn } from '../../util/in-turns.ts'

/** Longest `key` a submitted item may carry. */
export const MAX_KEY_CHARS = 128

/**
 * One item of a submission: a task spec, plus an optional `key` by which other items of the same
 * submission name it in their `dependsOn` (beside ids of tasks that already exist).
 */
export type GraphItemInput = TaskSpecInput & { key?: string }

/** An item after validation: its key (if any) and its spec with defaults filled in. */
export interface ParsedItem {
  key?: string
  spec: TaskSpec
}

/** An accepted task and the key its item carried. */
export interface PreparedTask {
  task: Task
  key?: string
}

/** What {@link prepareSubmission} needs to know about the accepting node. */
export interface SubmissionContext {
  /** Who submitted: a peer id or a client's name. */
  submitter: string
  /** The accepting node's peer id (the owner of every task). */
  owner: string
  /** Unix ms of the acceptance. */
  now: number
  /** Uniform in [0, 1), for the nonces. */
  random(): number
  /** True when this node runs the handler type or some peer advertises it. */
  knowsType(type: string): boolean
  /** The handler types in reach (this node's and its peers'), sorted: named when a type is unknown. */
  knownTypes?(): string[]
  /** What is wrong with a task's input, when this node's handler of its type can tell (see `HandlerDefinition.checkInput`). */
  checkInput?(type: string, input: Json): string | undefined
  /** True for ids of tasks known here: owned (queued, waiting or leased), or with a result. */
  isKnownId(id: string): boolean
}

const hasControlChar = (s: string) => [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)

/**
 * Validates one submitted item: `key` is taken off (a string of 1 to {@link MAX_KEY_CHARS}
 * characters without control characters) and the rest must be a valid task spec.
 * @throws InvalidTaskError naming the field.
 */
export function parseGraphItem(raw: unknown, field: string): ParsedItem {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.hasOwn(raw, 'key')) {
    return { spec: parseTaskSpec(raw, field) }
  }
  const { key, ...rest } = raw as Record<string, unknown>
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_CHARS || hasControlChar(key)) {
    throw new InvalidTaskError(
      `must be a string of 1 to ${MAX_KEY_CHARS} characters without control characters`,
      `${field}.key`,
    )
  }
  return { key, spec: parseTaskSpec(rest, field) }
}

/** Items a submission is checked in per turn of the event loop ({@link prepareSubmissionInTurns}). */
export const SUBMISSION_TURN_ITEMS = 64

type Prepared = { tasks: PreparedTask[]; order: number[] }

/**
 * Validates a submission — a list of specs, or a graph of items with `key` and `dependsOn` — and
 * builds its tasks, or refuses it whole (nothing is queued then):
 * every spec is parsed (`key` stripped first) and its handler type checked; `orderGraph` refuses
 * duplicate keys, self-references, references that are neither a key here nor a known task id,
 * and cycles (naming the keys on it). Ids are computed dependencies first, so each `dependsOn`
 * holds the ids (never keys) of the tasks it waits for — and is part of the id.
 * @returns the tasks in submission order, and the indices of `items` dependencies first.
 * @throws InvalidTaskError / UnknownHandlerError naming the task and field.
 */
export function prepareSubmission(items: unknown[], ctx: SubmissionContext): Prepared {
  const steps = preparing(items, ctx)
  for (;;) {
    const step = steps.next()
    if (step.done) return step.value
  }
}

/**
 * {@link prepareSubmission}, giving the event loop a turn after every {@link SUBMISSION_TURN_ITEMS}
 * items parsed and ids made: a submission of hundreds of tasks does not hold up the node's timers
 * (inline handlers' sleeps), steal requests and beacons for tens of milliseconds. The same checks,
 * the same answer; nothing is queued until the whole submission passed.
 */
export async function prepareSubmissionInTurns(items: unknown[], ctx: SubmissionContext): Promise<Prepared> {
  const steps = preparing(items, ctx)
  for (;;) {
    const step = steps.next()
    if (step.done) return step.value
    await nextTurn()
  }
}

/** Bits of a random half: its value is a small integer, written in base 36 without a division of floats. */
const HALF_BITS = 26
/** Base-36 digits of the largest half (36^5 < 2^26 ≤ 36^6). */
const HALF_DIGITS = 6

/**
 * 52 random bits in base 36 (a nonce's random part), from two 26-bit halves: `toString(36)` of a
 * 52-bit float divided floats digit by digit (`fmod`, 0.7 % of a busy owner's CPU).
 */
function randomBase36(random: () => number): string {
  const high = Math.floor(random() * 2 ** HALF_BITS)
  const low = Math.floor(random() * 2 ** HALF_BITS)
  return high.toString(36) + low.toString(36).padStart(HALF_DIGITS, '0')
}

/**
 * What the handler's input check finds wrong with `input`; a check that throws (an operator
 * module's bug) refuses the task naming it, rather than failing the submission as an internal error.
 */
function inputProblem(ctx: SubmissionContext, type: string, input: Json): string | undefined {
  try {
    return ctx.checkInput?.(type, input)
  } catch (err) {
    return `${type}: its input check failed: ${(err as Error)?.message ?? String(err)}`
  }
}

/** The steps of {@link prepareSubmission}: yields where a turn of the event loop may pass. */
function* preparing(items: unknown[], ctx: SubmissionContext): Generator<void, Prepared> {
  if (!Array.isArray(items)) {
    throw new InvalidTaskError(
      `must be an array of task specs, got ${items === null ? 'null' : typeof items}`,
      'tasks',
    )
  }
  if (items.length === 0) throw new InvalidTaskError('no tasks given', 'tasks')
  if (items.length > MAX_TASKS_PER_SUBMISSION) {
    throw new InvalidTaskError(
      `${items.length} tasks, over the limit of ${MAX_TASKS_PER_SUBMISSION}`,
      'tasks',
    )
  }
  const parsed: ParsedItem[] = new Array(items.length)
  for (const [i, raw] of items.entries()) {
    if (i > 0 && i % SUBMISSION_TURN_ITEMS === 0) yield
    const field = `tasks[${i}]`
    const item = parseGraphItem(raw, field)
    if (!ctx.knowsType(item.spec.type)) {
      throw new UnknownHandlerError(item.spec.type, `${field}.type`, ctx.knownTypes?.() ?? [])
    }
    const wrong = inputProblem(ctx, item.spec.type, item.spec.input)
    if (wrong !== undefined) throw new InvalidTaskError(wrong, `${field}.input`)
    parsed[i] = item
  }
  // items without a key cannot be named by others; their stand-in key cannot clash (control char)
  const keyOf = (item: ParsedItem, i: number) => item.key ?? `\u0000${i}`
  const order = orderGraph(
    parsed.map((item, i) => ({ key: keyOf(item, i), dependsOn: item.spec.dependsOn })),
    ctx.isKnownId,
  )
  const idOfKey = new Map<string, string>()
  const tasks: PreparedTask[] = new Array(items.length)
  const now36 = ctx.now.toString(36)
  for (const [n, i] of order.entries()) {
    if (n > 0 && n % SUBMISSION_TURN_ITEMS === 0) yield
    const { key, spec: parsedSpec } = parsed[i]
    const refs = parsedSpec.dependsOn
    // most tasks wait for none: no set, no copy (sortedSpec makes the spec a new object anyway)
    const spec = sortedSpec(
      refs.length === 0
        ? parsedSpec
        : { ...parsedSpec, dependsOn: [...new Set(refs.map((ref) => idOfKey.get(ref) ?? ref))] },
    )
    const nonce = `${now36}-${randomBase36(ctx.random)}`
    const task: Task = {
      id: taskId(spec, ctx.submitter, nonce),
      spec,
      submitter: ctx.submitter,
      nonce,
      owner: ctx.owner,
      submittedAt: ctx.now,
    }
    idOfKey.set(keyOf(parsed[i], i), task.id)
    tasks[i] = key === undefined ? { task } : { task, key }
  }
  return { tasks, order }
}

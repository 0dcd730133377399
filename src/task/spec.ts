import { z } from 'zod'
import { describeValue } from '../util/describe-value.ts'
import { InvalidTaskError } from './errors.ts'
import { findJsonShapeProblem, MAX_JSON_DEPTH } from './json-shape.ts'
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PRIORITY,
  DEFAULT_TIMEOUT_MS,
  MAX_ATTEMPTS,
  MAX_INPUT_BYTES,
  MAX_INPUT_DEPTH,
  MAX_LABELS,
  MAX_PRIORITY,
  MAX_TIMEOUT_MS,
  MIN_PRIORITY,
  TASK_INPUT_WRAPPING,
} from './limits.ts'

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** Handler types and labels: lowercase words, digits, `-`, `_`, `.`, `:`, `/`. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._:/-]{0,63}$/

const name = z.string().regex(NAME_PATTERN, 'must match [a-z0-9][a-z0-9._:/-]{0,63}')

/** What a task needs from the node that runs it. */
export interface Resources {
  /** Slots the task occupies while it runs. @defaultValue 1 */
  slots: number
  /** Memory the task needs, in MiB. @defaultValue 0 */
  memoryMb: number
  /** Labels the node must offer, e.g. `gpu`. @defaultValue [] */
  labels: string[]
}

/** A task as the submitter describes it. Every field but `type` has a default. */
export interface TaskSpec {
  /** The registered handler that runs the task. */
  type: string
  /** JSON input handed to the handler. @defaultValue null */
  input: Json
  /** Integer priority in [-1000, 1000]; higher runs first. @defaultValue 0 */
  priority: number
  resources: Resources
  /** A run longer than this fails the attempt. @defaultValue 300000 (5 minutes) */
  timeoutMs: number
  /** Attempts before the task ends as failed. @defaultValue 3 */
  maxAttempts: number
  /** Ids of tasks whose success this task waits for. @defaultValue [] */
  dependsOn: string[]
}

/** The submitter's view: everything but `type` may be left out. */
export type TaskSpecInput = Pick<TaskSpec, 'type'> &
  Partial<Omit<TaskSpec, 'type' | 'resources'>> & {
    resources?: Partial<Resources>
  }

export const resourcesSchema = z
  .object({
    slots: z.number().int().min(1).max(1024).default(1),
    memoryMb: z
      .number()
      .int()
      .min(0)
      .max(16 * 1024 * 1024)
      .default(0),
    labels: z.array(name).max(MAX_LABELS).default([]),
  })
  .strict()

const jsonSchema: z.ZodType<Json> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number().finite(),
    z.string(),
    z.array(jsonSchema),
    z.record(z.string(), jsonSchema),
  ]),
)

/** Schema of a task spec with defaults filled in. Extra fields are refused. */
export const taskSpecSchema = z
  .object({
    type: name,
    input: jsonSchema.default(null),
    priority: z.number().int().min(MIN_PRIORITY).max(MAX_PRIORITY).default(DEFAULT_PRIORITY),
    resources: resourcesSchema.default({ slots: 1, memoryMb: 0, labels: [] }),
    timeoutMs: z.number().int().positive().max(MAX_TIMEOUT_MS).default(DEFAULT_TIMEOUT_MS),
    maxAttempts: z.number().int().min(1).max(MAX_ATTEMPTS).default(DEFAULT_MAX_ATTEMPTS),
    dependsOn: z.array(z.string().min(1).max(128)).max(1024).default([]),
  })
  .strict()

/** Byte length of a JSON value's encoding. */
export function jsonByteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '')
}

/** Issues about a value that was given (not a missing or an unknown key): their message says it. */
const VALUE_ISSUES = new Set([
  'too_big',
  'too_small',
  'invalid_type',
  'invalid_value',
  'invalid_format',
  'not_multiple_of',
])

/**
 * Renders the first zod issue as `path: message`; with `input` (what was parsed), a value it
 * refused is quoted after the message (`Too big: expected number to be <=1000, got 1001`).
 */
export function describeZodError(
  error: z.ZodError,
  prefix = '',
  input?: unknown,
): { field: string; message: string } {
  const issue = error.issues[0]
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')
  const field = `${prefix}${path}`.replace(/^\./, '') || prefix || '(root)'
  return { field, message: issueMessage(issue, input) }
}

/**
 * A zod issue's message, and with `input` (what was parsed) the value it refused: `…, got 1001`
 * (`expected number, got "high"` for zod's `received string`); a left-out key `is required:
 * expected string`. Missing and unknown keys, and issues of no value, keep zod's message.
 */
export function issueMessage(issue: z.core.$ZodIssue, input?: unknown): string {
  if (input === undefined || !VALUE_ISSUES.has(issue.code)) return issue.message
  let value: unknown = input
  for (const key of issue.path)
    value =
      typeof value === 'object' && value !== null ? (value as Record<PropertyKey, unknown>)[key] : undefined
  if (value === undefined) {
    // a key left out: zod says "Invalid input: expected string, received undefined"
    const expected = issue.code === 'invalid_type' ? /expected \w+/.exec(issue.message)?.[0] : undefined
    return expected === undefined ? issue.message : `is required: ${expected}`
  }
  // the value said instead of its type alone ("expected number, received string")
  return `${issue.message.replace(/, received \w+$/, '')}, got ${describeValue(value)}`
}

/**
 * Validates a submitted spec and fills in defaults. Refuses, like the wire does, nesting deeper
 * than `MAX_JSON_DEPTH` and `__proto__` keys anywhere in it, and an input nested deeper than
 * `MAX_INPUT_DEPTH` (the messages that carry the task wrap it deeper).
 * @throws InvalidTaskError naming the offending field; nothing is changed.
 */
export function parseTaskSpec(raw: unknown, field = 'task'): TaskSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidTaskError('must be a JSON object', field)
  }
  // before the schema: it would recurse on deep nesting and drop `__proto__` keys silently
  const shape = findJsonShapeProblem(raw)
  if (shape !== undefined)
    throw new InvalidTaskError(shape.message, shape.path === '' ? field : `${field}.${shape.path}`)
  const parsed = taskSpecSchema.safeParse(raw)
  if (!parsed.success) {
    const { field: where, message } = describeZodError(parsed.error, field, raw)
    throw new InvalidTaskError(message, where)
  }
  // announcements and grants carry the input deeper than the spec does: it must fit there too
  // (wrapped in `{ input }`, the problem's path starts at `input`; the wrapper counts one level)
  const deep = findJsonShapeProblem({ input: parsed.data.input }, MAX_INPUT_DEPTH + 1)
  if (deep !== undefined) {
    throw new InvalidTaskError(
      `input nests deeper than ${MAX_INPUT_DEPTH} levels (messages that carry a task wrap its input ${TASK_INPUT_WRAPPING} levels deeper, and no message nests deeper than ${MAX_JSON_DEPTH})`,
      `${field}.${deep.path}`,
    )
  }
  const bytes = jsonByteLength(parsed.data.input)
  if (bytes > MAX_INPUT_BYTES) {
    throw new InvalidTaskError(
      `input is ${bytes} bytes, over the limit of ${MAX_INPUT_BYTES}`,
      `${field}.input`,
    )
  }
  return parsed.data as TaskSpec
}

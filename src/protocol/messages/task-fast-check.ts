import {
  MAX_ATTEMPTS,
  MAX_INPUT_BYTES,
  MAX_INPUT_DEPTH,
  MAX_LABELS,
  MAX_PRIORITY,
  MAX_TIMEOUT_MS,
  MIN_PRIORITY,
} from '../../task/limits.ts'
import { NAME_PATTERN } from '../../task/spec.ts'
import type { Task } from '../../task/task.ts'
import { isTaskId } from '../../task/task-id.ts'
import { MAX_NONCE_CHARS, MAX_PEER_ID_CHARS, MAX_TASK_ID_CHARS, MAX_TIMESTAMP_MS } from '../constants.ts'
import { isPeerIdString } from './wire-types.ts'

/**
 * A fast, exact-or-stricter check of a task as it travels in announcements and grants: true only
 * for values the task schema accepts (`fullTaskSchema`), so the schema — and its error message —
 * is needed only when this says no. Every node decodes every announced task, and the schema's
 * refinements cost about 20 µs a task; this costs about 1.
 */

const TASK_KEYS = ['id', 'spec', 'submitter', 'nonce', 'owner', 'submittedAt']
const SPEC_KEYS = ['type', 'input', 'priority', 'resources', 'timeoutMs', 'maxAttempts', 'dependsOn']
const RESOURCE_KEYS = ['slots', 'memoryMb', 'labels']
/** Most entries in `dependsOn`, and longest id there (as the spec schema has them). */
const MAX_DEPENDS_ON = 1024
const MAX_DEPENDENCY_CHARS = 128
const MAX_SLOTS = 1024
const MAX_MEMORY_MB = 16 * 1024 * 1024

type Obj = Record<string, unknown>

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Exactly these own keys, no others (plain objects from JSON.parse). Counted with `for…in`, no array
 * of keys made (an inherited enumerable key counts too: stricter, never looser).
 */
function hasExactly(o: Obj, keys: readonly string[]): boolean {
  let count = 0
  for (const _ in o) count++
  if (count !== keys.length) return false
  for (let i = 0; i < keys.length; i++) if (!Object.hasOwn(o, keys[i])) return false
  return true
}

const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max

const isString = (v: unknown, min: number, max: number): v is string =>
  typeof v === 'string' && v.length >= min && v.length <= max

const isName = (v: unknown): boolean => typeof v === 'string' && NAME_PATTERN.test(v)

/** A JSON value of finite numbers, no `__proto__` key, nested at most `depth` more levels. */
export function isPlainJson(v: unknown, depth: number): boolean {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return true
  if (typeof v === 'number') return Number.isFinite(v)
  if (typeof v !== 'object' || depth <= 0) return false
  if (Array.isArray(v)) {
    // a loop, not Array#every, which skips holes a schema refuses
    for (let i = 0; i < v.length; i++) if (!isPlainJson(v[i], depth - 1)) return false
    return true
  }
  // `for…in`: no array of keys; an inherited enumerable key (never from JSON.parse) is checked too
  for (const key in v) {
    if (key === '__proto__' || !isPlainJson((v as Obj)[key], depth - 1)) return false
  }
  return true
}

function isSpec(v: unknown): boolean {
  if (!isObject(v) || !hasExactly(v, SPEC_KEYS)) return false
  const r = v.resources
  return (
    isName(v.type) &&
    isInt(v.priority, MIN_PRIORITY, MAX_PRIORITY) &&
    isInt(v.timeoutMs, 1, MAX_TIMEOUT_MS) &&
    isInt(v.maxAttempts, 1, MAX_ATTEMPTS) &&
    Array.isArray(v.dependsOn) &&
    v.dependsOn.length <= MAX_DEPENDS_ON &&
    v.dependsOn.every((d) => isString(d, 1, MAX_DEPENDENCY_CHARS)) &&
    isObject(r) &&
    hasExactly(r, RESOURCE_KEYS) &&
    isInt(r.slots, 1, MAX_SLOTS) &&
    isInt(r.memoryMb, 0, MAX_MEMORY_MB) &&
    Array.isArray(r.labels) &&
    r.labels.length <= MAX_LABELS &&
    r.labels.every(isName) &&
    isPlainJson(v.input, MAX_INPUT_DEPTH) &&
    Buffer.byteLength(JSON.stringify(v.input)) <= MAX_INPUT_BYTES
  )
}

/** True only for a task the task schema accepts as it is (see the module comment). */
export function isWellFormedTask(v: unknown): v is Task {
  return (
    isObject(v) &&
    hasExactly(v, TASK_KEYS) &&
    isString(v.id, 1, MAX_TASK_ID_CHARS) &&
    isTaskId(v.id) &&
    isString(v.submitter, 1, MAX_PEER_ID_CHARS) &&
    isString(v.nonce, 1, MAX_NONCE_CHARS) &&
    isString(v.owner, 1, MAX_PEER_ID_CHARS) &&
    isPeerIdString(v.owner) &&
    isInt(v.submittedAt, 0, MAX_TIMESTAMP_MS) &&
    isSpec(v.spec)
  )
}

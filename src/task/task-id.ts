import { hash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { toBase32 } from '../util/base32.ts'
import { memoizeString } from '../util/memo.ts'
import type { TaskSpec } from './spec.ts'

/** `spec` with its keys (and its resources' keys) in sorted order, as canonical JSON has them. */
export function sortedSpec(spec: TaskSpec): TaskSpec {
  const { resources: r } = spec
  return {
    dependsOn: spec.dependsOn,
    input: spec.input,
    maxAttempts: spec.maxAttempts,
    priority: spec.priority,
    resources: { labels: r.labels, memoryMb: r.memoryMb, slots: r.slots },
    timeoutMs: spec.timeoutMs,
    type: spec.type,
  }
}

/**
 * Serialises a JSON value with object keys sorted (by UTF-16 code units, as `Array#sort` does), so
 * equal values give equal bytes. Otherwise exactly `JSON.stringify`: the same number and string
 * forms, `toJSON` honoured, `undefined`/functions/symbols left out of objects and `null` in arrays.
 * Written out rather than done with a sorting replacer, which copies every object on the way.
 */
export function canonicalJson(value: unknown): string {
  // plain data whose keys are in order already (records and messages as they were signed or sent)
  // is what the native JSON.stringify writes: about twice as fast as building the text here
  if (typeof value === 'object' && value !== null && isSortedPlainJson(value, 0)) return JSON.stringify(value)
  // like JSON.stringify, undefined (not a string) for a value with no JSON form
  return serialize(value, false) as string
}

/** Deepest value {@link isSortedPlainJson} walks before it leaves the value to `serialize`. */
const SORTED_CHECK_DEPTH = 64

/**
 * True when `JSON.stringify(value)` is exactly `canonicalJson(value)`: strings, finite or not
 * numbers, booleans, null, arrays of such (no holes) and objects of `Object.prototype` (or none)
 * without `toJSON`, whose own keys are in `Array#sort` order (UTF-16 code units). Anything else —
 * `undefined`, functions, class instances, unsorted keys — goes the long way.
 */
function isSortedPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return true
    case 'object':
      break
    default:
      return false
  }
  if (value === null) return true
  if (depth >= SORTED_CHECK_DEPTH) return false
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype || 'toJSON' in value) return false
    for (let i = 0; i < value.length; i++) {
      if (!(i in value) || !isSortedPlainJson(value[i], depth + 1)) return false
    }
    return true
  }
  const proto = Object.getPrototypeOf(value)
  if ((proto !== Object.prototype && proto !== null) || 'toJSON' in value) return false
  const obj = value as Record<string, unknown>
  let last: string | undefined
  // `for…in` walks the own keys in `Object.keys` order without an array of them; an inherited
  // enumerable key (after the own ones) can only make this say no, and the long way is exact
  for (const key in obj) {
    if (last !== undefined && !(last < key)) return false
    if (!isSortedPlainJson(obj[key], depth + 1)) return false
    last = key
  }
  return true
}

function serialize(input: unknown, inArray: boolean): string | undefined {
  let value = input
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    value = (value as { toJSON(): unknown }).toJSON()
  }
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return JSON.stringify(value)
    case 'bigint':
      throw new TypeError('Do not know how to serialize a BigInt')
    case 'undefined':
    case 'function':
    case 'symbol':
      return inArray ? 'null' : undefined
  }
  if (value === null) return 'null'
  if (Array.isArray(value)) {
    let out = '['
    for (let i = 0; i < value.length; i++) out += `${i > 0 ? ',' : ''}${serialize(value[i], true)}`
    return `${out}]`
  }
  const obj = value as Record<string, unknown>
  let out = '{'
  let first = true
  for (const key of Object.keys(obj).sort()) {
    const text = serialize(obj[key], false)
    if (text === undefined) continue
    out += `${first ? '' : ','}${JSON.stringify(key)}:${text}`
    first = false
  }
  return `${out}}`
}

/** Prefix of a CIDv1 (raw codec, sha2-256 multihash of 32 bytes) before the digest. */
const CID_PREFIX = Uint8Array.of(0x01, raw.code, sha256.code, 32)

/** The task id (CIDv1 raw/sha2-256, base32) of a SHA-256 digest, as `CID.createV1(...).toString()` gives. */
export function cidOfDigest(digest: Uint8Array): string {
  const bytes = new Uint8Array(CID_PREFIX.length + digest.length)
  bytes.set(CID_PREFIX)
  bytes.set(digest, CID_PREFIX.length)
  return `b${toBase32(bytes)}`
}

/**
 * The content-derived id of a task: a CIDv1 (raw codec, sha2-256) of the canonical JSON of
 * `{ spec, submitter, nonce }`, in base32. The same spec submitted twice with different nonces
 * gives two tasks; a replayed submission with the same nonce gives the same id. The text is the
 * same whatever order the keys come in; a spec whose keys are in order already (see
 * {@link sortedSpec}) is written by the native `JSON.stringify`.
 */
export function taskId(spec: TaskSpec, submitter: string, nonce: string): string {
  const digest = hash('sha256', canonicalJson({ nonce, spec, submitter }), 'buffer') as unknown as Uint8Array
  return cidOfDigest(digest)
}

/**
 * The base32 form `taskId` produces: `b`, then the 36 bytes (CIDv1, raw, sha2-256, 32 digest bytes)
 * in lowercase RFC 4648 base32 without padding; the prefix bytes fix the first characters, and the
 * last one carries 3 bits and 2 zero bits. Every string it matches parses as such a CID.
 */
const BASE32_TASK_ID = /^bafkrei[a-h][a-z2-7]{50}[aeimquy4]$/

const parsesAsTaskId = memoizeString((id) => {
  try {
    const cid = CID.parse(id)
    return cid.version === 1 && cid.code === raw.code && cid.multihash.code === sha256.code
  } catch {
    return false
  }
})

/**
 * True when `id` parses as a CIDv1 raw/sha2-256 string, the shape `taskId` produces. The form nodes
 * emit is recognised without parsing (a parse cost about 0.1 ms, per new id); other encodings are parsed.
 */
export function isTaskId(id: string): boolean {
  return BASE32_TASK_ID.test(id) || parsesAsTaskId(id)
}

/**
 * `id` when it is a task id.
 * @throws TypeError naming `where` and the value, so a typo is refused before anything is sent.
 */
export function checkTaskId(id: unknown, where: string): string {
  if (typeof id !== 'string' || !isTaskId(id)) {
    throw new TypeError(
      `${where}: ${JSON.stringify(id)} is not a task id (a CIDv1 such as "bafkrei…", as returned by submit)`,
    )
  }
  return id
}

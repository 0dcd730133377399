/**
 * Where the elements of a top-level array member lie in the bytes of a JSON object, so a receiver
 * can keep an element's bytes as they came rather than serialize the parsed value again: a
 * `store` frame's records are the values a keeper stores, and writing each parsed record back into
 * canonical text was a tenth of a keeper's work per copy.
 *
 * The scan follows JSON's structure only (strings, nesting), on bytes `JSON.parse` accepted
 * already, and reads the members as `JSON.parse` does (the last of a repeated key, a key written
 * with escapes decoded).
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const COMMA = 0x2c
const COLON = 0x3a

/** Bytes of a string read one by one before the rest is searched for its closing quote. */
const SHORT_STRING = 16

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09
}

function skipSpace(bytes: Uint8Array, at: number): number {
  while (at < bytes.length && isSpace(bytes[at])) at++
  return at
}

/** Offset just past the string whose opening quote is at `at`. */
function skipString(bytes: Uint8Array, at: number): number {
  // a short string (a key, a number's worth) byte by byte; then a native search, quicker per byte
  // past a call's own cost
  let i = at + 1
  const stop = Math.min(bytes.length, i + SHORT_STRING)
  for (; i < stop; i++) {
    const b = bytes[i]
    if (b === QUOTE) return i + 1
    if (b === BACKSLASH) i++ // the escaped byte is not the string's end
  }
  for (;;) {
    const q = bytes.indexOf(QUOTE, i)
    if (q < 0) return bytes.length
    // a quote after an odd run of backslashes is escaped (the run cannot pass the opening quote)
    let slashes = 0
    while (bytes[q - 1 - slashes] === BACKSLASH) slashes++
    if (slashes % 2 === 0) return q + 1
    i = q + 1
  }
}

/** Offset just past the value that starts at `at` (no space before it). */
function skipValue(bytes: Uint8Array, at: number): number {
  const first = bytes[at]
  if (first === QUOTE) return skipString(bytes, at)
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    // a number, true, false or null: up to the next delimiter
    let i = at
    while (i < bytes.length) {
      const b = bytes[i]
      if (b === COMMA || b === CLOSE_OBJECT || b === CLOSE_ARRAY || isSpace(b)) break
      i++
    }
    return i
  }
  let depth = 0
  let i = at
  while (i < bytes.length) {
    const b = bytes[i]
    if (b === QUOTE) {
      i = skipString(bytes, i)
      continue
    }
    if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth++
    else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
      depth--
      if (depth === 0) return i + 1
    }
    i++
  }
  return i
}

/** True when the key string from `at` (its opening quote) to `end` (past its closing one) is `name`. */
function keyIs(bytes: Uint8Array, at: number, end: number, name: string, nameBytes: Uint8Array): boolean {
  const key = bytes.subarray(at, end)
  // a key written with an escape is read as JSON.parse reads it (rare: taskmesh writes none)
  if (key.includes(BACKSLASH)) return JSON.parse(Buffer.from(key).toString('utf8')) === name
  if (key.length - 2 !== nameBytes.length) return false
  for (let k = 0; k < nameBytes.length; k++) if (key[1 + k] !== nameBytes[k]) return false
  return true
}

/**
 * The `[start, end)` byte offsets of each element of the array member `name` of the JSON object
 * `bytes` holds (the last such member, as `JSON.parse` keeps it), flattened: element `i` is
 * `bytes.subarray(spans[2i], spans[2i + 1])`. `bytes` must be text `JSON.parse` accepted.
 * @returns undefined when `bytes` is not an object or it has no such member, or the member's value
 *   is not an array.
 */
export function arrayMemberSpans(bytes: Uint8Array, name: string): number[] | undefined {
  const wanted = Buffer.from(name, 'utf8')
  let i = skipSpace(bytes, 0)
  if (bytes[i] !== OPEN_OBJECT) return undefined
  let spans: number[] | undefined
  i = skipSpace(bytes, i + 1)
  while (i < bytes.length && bytes[i] !== CLOSE_OBJECT) {
    if (bytes[i] !== QUOTE) return undefined
    const keyEnd = skipString(bytes, i)
    const member = keyIs(bytes, i, keyEnd, name, wanted)
    i = skipSpace(bytes, keyEnd)
    if (bytes[i] !== COLON) return undefined
    i = skipSpace(bytes, i + 1)
    if (member) {
      if (bytes[i] !== OPEN_ARRAY) return undefined
      spans = []
      i = skipSpace(bytes, i + 1)
      while (i < bytes.length && bytes[i] !== CLOSE_ARRAY) {
        const end = skipValue(bytes, i)
        spans.push(i, end)
        i = skipSpace(bytes, end)
        if (bytes[i] === COMMA) i = skipSpace(bytes, i + 1)
      }
      i++
    } else i = skipValue(bytes, i)
    i = skipSpace(bytes, i)
    if (bytes[i] === COMMA) i = skipSpace(bytes, i + 1)
  }
  return spans
}

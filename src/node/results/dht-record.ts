import type { EnvelopeValue } from '../../protocol/records/record-envelope.ts'

/**
 * The stored form of a DHT record: the protobuf `Record` of `@libp2p/record` (`key` = 1, `value` =
 * 2, `timeReceived` = 5, an RFC 3339 time with nanoseconds), which kad-dht reads back with
 * `Libp2pRecord.deserialize`. Written here in one buffer, straight from the value's text when the
 * caller has text: `new Libp2pRecord(key, value, date).serialize()` took a value already encoded
 * (a copy of the text), built the time string anew and encoded through protons' writer (another
 * allocation and copy) — about 2–3 µs per record kept, and every node keeps ~4 records per task.
 * The bytes are the same (a test compares them with `@libp2p/record`'s).
 */

/** A serialized record and its value, a view into it (no copy of its own). */
export interface SerializedDhtRecord {
  serialized: Uint8Array
  value: Uint8Array
}

const KEY_TAG = 0x0a // field 1, length-delimited
const VALUE_TAG = 0x12 // field 2, length-delimited
const TIME_TAG = 0x2a // field 5, length-delimited

let lastMs = Number.NaN
let lastTime = ''

/** `@libp2p/record`'s `toRFC3339` of `ms` (its format exactly), kept for the last millisecond asked. */
export function rfc3339Nano(ms: number): string {
  if (ms === lastMs) return lastTime
  const t = new Date(ms)
  const two = (n: number) => String(n).padStart(2, '0')
  const date = `${t.getUTCFullYear()}-${two(t.getUTCMonth() + 1)}-${two(t.getUTCDate())}`
  const time = `${two(t.getUTCHours())}:${two(t.getUTCMinutes())}:${two(t.getUTCSeconds())}`
  lastTime = `${date}T${time}.${String(t.getUTCMilliseconds() * 1_000_000).padStart(9, '0')}Z`
  lastMs = ms
  return lastTime
}

function varintLength(n: number): number {
  let bytes = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    bytes++
  }
  return bytes
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n & 0x7f) | 0x80
    n = Math.floor(n / 0x80)
  }
  buf[at++] = n
  return at
}

/**
 * The serialized `Record` of `key` and `value` (bytes, text written as UTF-8, or text in pieces)
 * received at `receivedAt` (Unix ms), and the value as a view into it.
 */
export function serializeDhtRecord(
  key: Uint8Array,
  value: Uint8Array | string | EnvelopeValue,
  receivedAt: number = Date.now(),
): SerializedDhtRecord {
  const time = rfc3339Nano(receivedAt)
  const valueBytes =
    typeof value === 'string'
      ? Buffer.byteLength(value, 'utf8')
      : value instanceof Uint8Array
        ? value.byteLength
        : value.bytes
  const size =
    1 +
    varintLength(key.byteLength) +
    key.byteLength +
    1 +
    varintLength(valueBytes) +
    valueBytes +
    1 +
    varintLength(time.length) +
    time.length
  const buf = Buffer.allocUnsafe(size)
  let at = 0
  buf[at++] = KEY_TAG
  at = writeVarint(buf, at, key.byteLength)
  buf.set(key, at)
  at += key.byteLength
  buf[at++] = VALUE_TAG
  at = writeVarint(buf, at, valueBytes)
  const valueAt = at
  if (typeof value === 'string') buf.write(value, at, valueBytes, 'utf8')
  else if (value instanceof Uint8Array) buf.set(value, at)
  else {
    let piece = at
    for (const text of value.pieces) piece += buf.write(text, piece, 'utf8')
    if (piece !== at + valueBytes)
      throw new RangeError(`text pieces of ${piece - at} bytes, said to be ${valueBytes}`)
  }
  at += valueBytes
  buf[at++] = TIME_TAG
  at = writeVarint(buf, at, time.length)
  buf.write(time, at, time.length, 'latin1')
  const serialized = new Uint8Array(buf.buffer, buf.byteOffset, size)
  return { serialized, value: serialized.subarray(valueAt, valueAt + valueBytes) }
}

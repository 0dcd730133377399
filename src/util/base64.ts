/**
 * Padded base64 with Node's native codec. `uint8arrays`' `base64pad` runs through multiformats'
 * pure-JS codec, several times slower on the record values and signatures every task carries.
 * Decoding is lenient: check the text first ({@link isCanonicalBase64}, as every wire schema does).
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
/** Each alphabet character's value by char code (below 128); -1 for any other character. */
const VALUE = new Int8Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i

/** The value of the base64 character at `at` of `text`, or -1 for anything else. */
function valueAt(text: string, at: number): number {
  const c = text.charCodeAt(at)
  return c < 128 ? VALUE[c] : -1
}

/**
 * True when `text[from, from + count)` is all base64 characters and the last one's `spare` low bits
 * are zero (what a canonical encoder writes before its padding: 4 bits spare before `==`, 2 before
 * `=`). Checked by hand, about half the time of a pattern: each record's signature and proof hashes
 * pass here, and grant proofs' parts (`grant-proof-text.ts`).
 */
export function isBase64Run(text: string, from: number, count: number, spare: number): boolean {
  if (count === 0) return true
  const end = from + count
  for (let i = from; i < end - 1; i++) if (valueAt(text, i) < 0) return false
  const last = valueAt(text, end - 1)
  return last >= 0 && (last & spare) === 0
}
/** Texts longer than this are checked by a round trip through the codec (see {@link isCanonicalBase64}). */
const ROUND_TRIP_CHARS = 256

/** Padded base64 of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/** The bytes of padded base64 `text` (checked by the caller), as a plain Uint8Array view. */
export function fromBase64(text: string): Uint8Array {
  const buf = Buffer.from(text, 'base64')
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

/**
 * True when `text` is the one base64 text of its bytes, the text {@link toBase64} gives back: the
 * standard alphabet, padded to a multiple of four, no white space, and zero in the bits the last
 * character before the padding has to spare (decoders ignore them, so `QR==` would read as `QQ==`:
 * one signed value with several accepted byte forms).
 */
export function isCanonicalBase64(text: string): boolean {
  // a long text (a record value) is checked by decoding it and writing it back, about 3 times
  // faster than the pattern: the native codec decodes leniently but writes only the one text of
  // the bytes, so the two agree exactly when the text was that one
  if (text.length > ROUND_TRIP_CHARS) return Buffer.from(text, 'base64').toString('base64') === text
  if (text.length % 4 !== 0) return false
  // standard base64 padded to groups of four: the last character before "==" carries 2 bits of
  // data (4 spare), before "=" 4 bits (2 spare)
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  return isBase64Run(text, 0, text.length - pad, pad === 2 ? 0b1111 : pad === 1 ? 0b11 : 0)
}

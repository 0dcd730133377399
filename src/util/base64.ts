/**
 * Padded base64 with Node's native codec. `uint8arrays`' `base64pad` runs through multiformats'
 * pure-JS codec, several times slower on the record values and signatures every task carries.
 * Decoding is lenient: check the text first ({@link isCanonicalBase64}, as every wire schema does).
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
/** 1 at the char codes of the alphabet (below 128). */
const IN_ALPHABET = new Uint8Array(128)
for (let i = 0; i < ALPHABET.length; i++) IN_ALPHABET[ALPHABET.charCodeAt(i)] = 1

/**
 * Standard base64 with padding, by shape: groups of four, the last one maybe padded with `=` or
 * `==` (what `/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/` matches, in
 * about half its time: each record's signature and proof hashes pass here).
 */
function isPaddedBase64(text: string, pad: number): boolean {
  if (text.length % 4 !== 0) return false
  for (let i = text.length - pad - 1; i >= 0; i--) {
    const c = text.charCodeAt(i)
    if (c >= 128 || IN_ALPHABET[c] === 0) return false
  }
  return true
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
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  if (!isPaddedBase64(text, pad)) return false
  if (pad === 0) return true
  // the last character before "==" carries 2 bits of data (4 spare); before "=", 4 bits (2 spare)
  const last = ALPHABET.indexOf(text[text.length - pad - 1])
  return (last & (pad === 2 ? 0b1111 : 0b11)) === 0
}

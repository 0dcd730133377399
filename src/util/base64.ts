/**
 * Padded base64 with Node's native codec. `uint8arrays`' `base64pad` runs through multiformats'
 * pure-JS codec, several times slower on the record values and signatures every task carries.
 * Decoding is lenient: check the text first (e.g. zod's `z.base64()`), as every wire schema does.
 */

/** Padded base64 of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/** The bytes of padded base64 `text` (checked by the caller), as a plain Uint8Array view. */
export function fromBase64(text: string): Uint8Array {
  const buf = Buffer.from(text, 'base64')
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

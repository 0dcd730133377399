/**
 * RFC 4648 base32 in lower case without padding — the text `uint8arrays` gives for `'base32'`, the
 * form kad-dht names its datastore keys in. Written out because that codec builds its text a
 * character at a time: about 4 µs and a string per character for a 60-byte key, and a node names a
 * result record's datastore key for every record it keeps (a character code table and one latin1
 * string, 0.5 µs).
 */

const ALPHABET = Buffer.from('abcdefghijklmnopqrstuvwxyz234567', 'latin1')

/** Where the text is written before it becomes a string (a buffer per call costs more than the rest). */
let scratch = Buffer.allocUnsafe(256)

/** Lower-case, unpadded RFC 4648 base32 of `bytes`. */
export function toBase32(bytes: Uint8Array): string {
  const chars = Math.ceil((bytes.length * 8) / 5)
  if (scratch.byteLength < chars) scratch = Buffer.allocUnsafe(chars)
  const out = scratch
  let bits = 0
  let buffer = 0
  let at = 0
  for (let i = 0; i < bytes.length; i++) {
    buffer = ((buffer << 8) | bytes[i]) & 0xfff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out[at++] = ALPHABET[(buffer >>> bits) & 31]
    }
  }
  if (bits > 0) out[at++] = ALPHABET[(buffer << (5 - bits)) & 31]
  return out.toString('latin1', 0, at)
}

import { hash } from 'node:crypto'
import sodium from 'sodium-native'

/**
 * Inputs up to this many bytes are hashed by libsodium, longer ones by Node's one-shot
 * `crypto.hash`: Node's call costs more before the first byte (a digest context each time), then
 * hashes faster (SHA extensions). Best of 3 × 20,000 here: 40 bytes 0.29 against 0.57 µs, 65 bytes
 * 0.51 against 0.60, 150 bytes even, 1,100 bytes 3.07 against 1.46 (`npx tsx scripts/crypto-cost.ts`).
 */
export const SODIUM_MAX_BYTES = 128

/** Where libsodium writes each digest (its memory outside V8's heap from the start). */
const digest = new Uint8Array(new ArrayBuffer(32))

/**
 * SHA-256 of `bytes`, as a new 32-byte array. Merkle inner nodes (65 bytes) and Kademlia ids of
 * keys and peers (~40–60 bytes) take libsodium's path; lease leaves (~150 bytes), record leaves
 * and task ids (most ~1 KB) Node's.
 */
export function sha256(bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength > SODIUM_MAX_BYTES) return hash('sha256', bytes, 'buffer') as unknown as Uint8Array
  // libsodium writes into one buffer of its own, copied out: a fresh 32-byte array lives in V8's
  // heap, and handing it to a native addon made V8 move it out first (1.3–1.6 µs a hash of a
  // record key against 0.6)
  sodium.crypto_hash_sha256(digest, bytes)
  return digest.slice()
}

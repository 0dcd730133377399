import { hash } from 'node:crypto'
import sodium from 'sodium-native'

/**
 * Inputs up to this many bytes are hashed by libsodium, longer ones by Node's one-shot
 * `crypto.hash`: Node's call costs more before the first byte (a digest context each time), then
 * hashes faster (SHA extensions). Best of 3 × 20,000 here: 40 bytes 0.29 against 0.57 µs, 65 bytes
 * 0.51 against 0.60, 150 bytes even, 1,100 bytes 3.07 against 1.46 (`npx tsx scripts/crypto-cost.ts`).
 */
export const SODIUM_MAX_BYTES = 128

/**
 * SHA-256 of `bytes`, as a new 32-byte array. Merkle inner nodes (65 bytes) and Kademlia ids of
 * keys and peers (~40–60 bytes) take libsodium's path; lease leaves (~150 bytes), record leaves
 * and task ids (most ~1 KB) Node's.
 */
export function sha256(bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength > SODIUM_MAX_BYTES) return hash('sha256', bytes, 'buffer') as unknown as Uint8Array
  const out = new Uint8Array(32)
  sodium.crypto_hash_sha256(out, bytes)
  return out
}

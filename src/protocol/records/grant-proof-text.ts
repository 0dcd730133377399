/**
 * The text form of a grant proof (see `grant-proof.ts`): a lone lease's proof is the padded base64
 * of an Ed25519 signature; a proof of a lease in a batch adds `.<index>.<size>` and the leaf's
 * inclusion path, `.<hash>` per level (1 to 10 SHA-256 hashes in padded base64). Every base64 part is
 * canonical: the bits its last character has to spare are zero. Checked by hand, in one pass and
 * without allocating: each record's grant is checked on every path it takes into a node (a
 * thief's grant, its record, the owner's completion, every keeper's copy), where the pattern, a
 * split and a check per part took several microseconds.
 */

import { isBase64Run } from '../../util/base64.ts'

/** Length in characters of a lone lease's proof: the padded base64 of a 64-byte Ed25519 signature. */
export const GRANT_PROOF_CHARS = 88

/** Longest proof: a signature, index and size of 4 digits, and 10 hashes of 44 characters. */
export const MAX_GRANT_PROOF_CHARS = GRANT_PROOF_CHARS + 10 + 10 * 45

/**
 * The form of a proof as a pattern (what {@link isGrantProofText} checks, besides the spare bits):
 * a lone signature, or a batch signature with its leaf's place and path.
 */
export const GRANT_PROOF_PATTERN =
  /^[A-Za-z0-9+/]{86}==(\.(0|[1-9][0-9]{0,3})\.([2-9]|[1-9][0-9]{1,3})(\.[A-Za-z0-9+/]{43}=){1,10})?$/

/** Characters of a path hash before its `=`: 32 bytes in base64. */
const HASH_CHARS = 43
/** Most hashes in a path (a batch of at most 1,024 leaves). */
const MAX_PATH = 10

const DOT = 0x2e
const EQUALS = 0x3d
const ZERO = 0x30
const NINE = 0x39

/**
 * Where a decimal number of 1 to 4 digits and at least `min` that starts at `at` ends, or -1. No
 * leading zero (`0` itself is one digit).
 */
function numberEnd(text: string, at: number, min: number): number {
  let end = at
  while (end < text.length && end - at < 5) {
    const c = text.charCodeAt(end)
    if (c < ZERO || c > NINE) break
    end++
  }
  const digits = end - at
  if (digits === 0 || digits > 4) return -1
  if (digits > 1 && text.charCodeAt(at) === ZERO) return -1
  return Number(text.slice(at, end)) >= min ? end : -1
}

/** True when `proof` has the form of a grant proof (lone or batched; no signature checked). */
export function isGrantProofText(proof: unknown): proof is string {
  if (typeof proof !== 'string') return false
  const n = proof.length
  if (n < GRANT_PROOF_CHARS || n > MAX_GRANT_PROOF_CHARS) return false
  // the signature: 86 characters, the last with 4 bits to spare, then "=="
  if (!isBase64Run(proof, 0, 86, 0b1111)) return false
  if (proof.charCodeAt(86) !== EQUALS || proof.charCodeAt(87) !== EQUALS) return false
  if (n === GRANT_PROOF_CHARS) return true
  // ".<index>.<size>": index 0 or more, size 2 or more
  if (proof.charCodeAt(GRANT_PROOF_CHARS) !== DOT) return false
  const indexEnd = numberEnd(proof, GRANT_PROOF_CHARS + 1, 0)
  if (indexEnd < 0 || proof.charCodeAt(indexEnd) !== DOT) return false
  let at = numberEnd(proof, indexEnd + 1, 2)
  if (at < 0) return false
  // 1 to 10 of ".<43 characters, the last with 2 bits to spare>="
  let hashes = 0
  while (at < n) {
    if (hashes === MAX_PATH || n - at < HASH_CHARS + 2 || proof.charCodeAt(at) !== DOT) return false
    if (!isBase64Run(proof, at + 1, HASH_CHARS, 0b11)) return false
    if (proof.charCodeAt(at + 1 + HASH_CHARS) !== EQUALS) return false
    at += HASH_CHARS + 2
    hashes++
  }
  return hashes > 0
}

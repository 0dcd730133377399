import { hash } from 'node:crypto'

/**
 * Merkle tree hashing as in RFC 9162 (Certificate Transparency v2), with SHA-256: a leaf hashes
 * as `H(0x00 ‖ data)`, an inner node as `H(0x01 ‖ left ‖ right)`, and a tree of n > 1 leaves splits
 * at the largest power of two below n. An executor signs the root of a batch of result records
 * once; each record carries its inclusion path, so one signature check covers the whole batch.
 */

/** Bytes of a SHA-256 hash. */
export const HASH_BYTES = 32

/** SHA-256 of `prefix ‖ parts` (one-shot `crypto.hash`: cheaper than a Hash object per call). */
function sha256Of(prefix: number, parts: Uint8Array[]): Uint8Array {
  let length = 1
  for (const part of parts) length += part.byteLength
  const input = Buffer.allocUnsafe(length)
  input[0] = prefix
  let at = 1
  for (const part of parts) {
    input.set(part, at)
    at += part.byteLength
  }
  return hash('sha256', input, 'buffer') as unknown as Uint8Array
}

/** The leaf hash of `data`: SHA-256(0x00 ‖ data). */
export function leafHash(data: Uint8Array): Uint8Array {
  return sha256Of(0, [data])
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256Of(1, [left, right])
}

/** The largest power of two strictly below `n` (n ≥ 2). */
function split(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

/**
 * The root of the tree over `leaves` (leaf hashes, in order).
 * @throws RangeError for an empty list.
 */
export function merkleRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) throw new RangeError('a Merkle tree needs at least one leaf')
  if (leaves.length === 1) return leaves[0]
  const k = split(leaves.length)
  return nodeHash(merkleRoot(leaves.slice(0, k)), merkleRoot(leaves.slice(k)))
}

/**
 * The inclusion path of leaf `index` in the tree over `leaves`: sibling hashes from the leaf up
 * (RFC 9162 §2.1.3.1).
 * @throws RangeError when `index` is not a leaf of the tree.
 */
export function inclusionPath(leaves: Uint8Array[], index: number): Uint8Array[] {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(`leaf ${index} is not in a tree of ${leaves.length}`)
  }
  if (leaves.length === 1) return []
  const k = split(leaves.length)
  return index < k
    ? [...inclusionPath(leaves.slice(0, k), index), merkleRoot(leaves.slice(k))]
    : [...inclusionPath(leaves.slice(k), index - k), merkleRoot(leaves.slice(0, k))]
}

/**
 * The root of the tree over `leaves` and every leaf's inclusion path (what a signer attaches to
 * each record of a batch), each inner node hashed once: n − 1 hashes.
 * @throws RangeError for an empty list.
 */
export function merkleTree(leaves: Uint8Array[]): { root: Uint8Array; paths: Uint8Array[][] } {
  if (leaves.length === 0) throw new RangeError('a Merkle tree needs at least one leaf')
  if (leaves.length === 1) return { root: leaves[0], paths: [[]] }
  const k = split(leaves.length)
  const left = merkleTree(leaves.slice(0, k))
  const right = merkleTree(leaves.slice(k))
  for (const path of left.paths) path.push(right.root)
  for (const path of right.paths) path.push(left.root)
  return { root: nodeHash(left.root, right.root), paths: [...left.paths, ...right.paths] }
}

/** Every leaf's inclusion path at once; see {@link merkleTree}. */
export function inclusionPaths(leaves: Uint8Array[]): Uint8Array[][] {
  return leaves.length === 0 ? [] : merkleTree(leaves).paths
}

/**
 * The root that leaf `hash` at `index` of a tree of `size` leaves proves with `path`
 * (RFC 9162 §2.1.3.2), or undefined when the path cannot be one of such a tree.
 */
export function rootFromPath(
  hash: Uint8Array,
  index: number,
  size: number,
  path: Uint8Array[],
): Uint8Array | undefined {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return undefined
  let fn = index
  let sn = size - 1
  let r = hash
  for (const p of path) {
    if (sn === 0 || p.byteLength !== HASH_BYTES) return undefined
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r)
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2)
          sn = Math.floor(sn / 2)
        }
      }
    } else {
      r = nodeHash(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 ? r : undefined
}

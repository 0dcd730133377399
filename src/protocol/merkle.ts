import { createHash } from 'node:crypto'

/**
 * Merkle tree hashing as in RFC 9162 (Certificate Transparency v2), with SHA-256: a leaf hashes
 * as `H(0x00 ‖ data)`, an inner node as `H(0x01 ‖ left ‖ right)`, and a tree of n > 1 leaves splits
 * at the largest power of two below n. An executor signs the root of a batch of result records
 * once; each record carries its inclusion path, so one signature check covers the whole batch.
 */

/** Bytes of a SHA-256 hash. */
export const HASH_BYTES = 32

const LEAF = new Uint8Array([0])
const NODE = new Uint8Array([1])

/** The leaf hash of `data`: SHA-256(0x00 ‖ data). */
export function leafHash(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(LEAF).update(data).digest()
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return createHash('sha256').update(NODE).update(left).update(right).digest()
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
 * Every leaf's inclusion path at once (what a signer attaches to each record of a batch), in
 * O(n log n) hashes rather than one tree walk per leaf.
 */
export function inclusionPaths(leaves: Uint8Array[]): Uint8Array[][] {
  if (leaves.length === 0) return []
  if (leaves.length === 1) return [[]]
  const k = split(leaves.length)
  const left = leaves.slice(0, k)
  const right = leaves.slice(k)
  const leftRoot = merkleRoot(left)
  const rightRoot = merkleRoot(right)
  return [
    ...inclusionPaths(left).map((path) => [...path, rightRoot]),
    ...inclusionPaths(right).map((path) => [...path, leftRoot]),
  ]
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

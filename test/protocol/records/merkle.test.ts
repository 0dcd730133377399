import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  HASH_BYTES,
  inclusionPath,
  inclusionPaths,
  leafHash,
  merkleRoot,
  rootFromPath,
} from '../../../src/protocol/records/merkle.ts'

const leaves = (n: number) => Array.from({ length: n }, (_, i) => leafHash(new Uint8Array([i, n, 7])))
const hex = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'))

describe('Merkle trees (RFC 9162)', () => {
  it('a tree of one leaf has that leaf as its root and an empty path', () => {
    const [leaf] = leaves(1)
    expect(hex(merkleRoot([leaf]))).toBe(hex(leaf))
    expect(inclusionPaths([leaf])).toEqual([[]])
    expect(hex(rootFromPath(leaf, 0, 1, []))).toBe(hex(leaf))
  })

  it('splits at the largest power of two below n: a tree of three is H(1‖H(1‖a‖b)‖c)', () => {
    const [a, b, c] = leaves(3)
    const node = (l: Uint8Array, r: Uint8Array) =>
      new Uint8Array(
        createHash('sha256')
          .update(Buffer.from([1]))
          .update(l)
          .update(r)
          .digest(),
      )
    expect(hex(merkleRoot([a, b, c]))).toBe(hex(node(node(a, b), c)))
    expect(inclusionPath([a, b, c], 2).map(hex)).toEqual([hex(node(a, b))])
    expect(inclusionPath([a, b, c], 0).map(hex)).toEqual([hex(b), hex(c)])
  })

  it('every leaf of trees of 1 to 70 leaves proves the root; all-at-once paths equal one-by-one paths', () => {
    for (let n = 1; n <= 70; n++) {
      const tree = leaves(n)
      const root = hex(merkleRoot(tree))
      const paths = inclusionPaths(tree)
      for (let i = 0; i < n; i++) {
        expect(paths[i].map(hex)).toEqual(inclusionPath(tree, i).map(hex))
        expect(hex(rootFromPath(tree[i], i, n, paths[i]))).toBe(root)
      }
    }
  })

  it('a path proves nothing for another leaf or index, nor when shortened, lengthened or altered', () => {
    const tree = leaves(13)
    const root = hex(merkleRoot(tree))
    const path = inclusionPath(tree, 5)
    const proves = (leaf: Uint8Array, index: number, size: number, p: Uint8Array[]) =>
      hex(rootFromPath(leaf, index, size, p)) === root
    expect(proves(tree[5], 5, 13, path)).toBe(true)
    expect(proves(tree[6], 5, 13, path)).toBe(false)
    expect(proves(tree[5], 4, 13, path)).toBe(false)
    // the size only shapes the right edge: a leaf there cannot be moved into a smaller tree
    expect(proves(tree[12], 12, 13, inclusionPath(tree, 12))).toBe(true)
    expect(proves(tree[12], 12, 12, inclusionPath(tree, 12))).toBe(false)
    expect(proves(tree[5], 5, 13, path.slice(1))).toBe(false)
    expect(proves(tree[5], 5, 13, [...path, tree[0]])).toBe(false)
    const altered = path.map((h) => h.slice())
    altered[1][0] ^= 1
    expect(proves(tree[5], 5, 13, altered)).toBe(false)
  })

  it('refuses shapes no tree has: an index outside the size, hashes of the wrong length', () => {
    const tree = leaves(4)
    expect(rootFromPath(tree[0], 4, 4, inclusionPath(tree, 0))).toBeUndefined()
    expect(rootFromPath(tree[0], -1, 4, inclusionPath(tree, 0))).toBeUndefined()
    expect(rootFromPath(tree[0], 0, 4, [new Uint8Array(HASH_BYTES - 1), tree[2]])).toBeUndefined()
    expect(() => merkleRoot([])).toThrow(RangeError)
    expect(() => inclusionPath(tree, 4)).toThrow(RangeError)
  })
})

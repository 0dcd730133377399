import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  HASH_BYTES,
  inclusionPath,
  inclusionPaths,
  leafHash,
  merkleRoot,
  PathMemo,
  pathFits,
  rootFromPath,
  rootFromTextPath,
} from '../../../src/protocol/records/merkle.ts'
import { toBase64 } from '../../../src/util/base64.ts'

const leaves = (n: number) => Array.from({ length: n }, (_, i) => leafHash(new Uint8Array([i, n, 7])))
const hex = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'))

describe('Merkle trees (RFC 9162)', () => {
  it('a leaf hash is SHA-256(0x00 ‖ data), for inputs small and large, one after another', () => {
    const sha = (data: Uint8Array) => createHash('sha256').update(Uint8Array.of(0)).update(data).digest('hex')
    // inputs up to 4 KiB share one scratch buffer, larger ones get their own: each hash is its own
    const inputs = [3, 4095, 4096, 10_000, 5, 70_000, 1].map((n) =>
      new Uint8Array(n).map((_, i) => (i * 31 + n) & 255),
    )
    const hashes = inputs.map((data) => hex(leafHash(data)))
    expect(hashes).toEqual(inputs.map(sha))
  })

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

  it('a climb through a memo ends at the root a full climb reaches, for every leaf in any order', () => {
    for (const n of [2, 3, 5, 13, 16, 33, 70]) {
      const tree = leaves(n)
      const root = hex(merkleRoot(tree))
      const paths = inclusionPaths(tree).map((p) => p.map(toBase64))
      const memo = new PathMemo()
      // right to left, then every other one: climbs meet earlier ones at every height
      const order = [...Array.from({ length: n }, (_, i) => n - 1 - i), ...tree.keys()]
      for (const i of order) {
        expect(hex(rootFromTextPath(tree[i], i, n, paths[i], memo))).toBe(root)
        expect(hex(rootFromTextPath(tree[i], i, n, paths[i]))).toBe(root)
      }
      if (n > 2) expect(memo.size).toBeGreaterThan(0)
    }
  })

  it('a memo proves nothing a full climb would refuse: another leaf, index or size, or an altered path', () => {
    const tree = leaves(16)
    const root = hex(merkleRoot(tree))
    const paths = inclusionPaths(tree).map((p) => p.map(toBase64))
    const memo = new PathMemo()
    for (const [i, path] of paths.entries()) rootFromTextPath(tree[i], i, 16, path, memo)
    const withMemo = (leaf: Uint8Array, index: number, size: number, p: string[]) =>
      hex(rootFromTextPath(leaf, index, size, p, memo))
    const full = (leaf: Uint8Array, index: number, size: number, p: string[]) =>
      hex(rootFromTextPath(leaf, index, size, p))
    expect(withMemo(tree[5], 5, 16, paths[5])).toBe(root)
    const refused: Array<[Uint8Array, number, number, string[]]> = [
      [tree[4], 5, 16, paths[5]],
      [tree[5], 4, 16, paths[5]],
      [tree[5], 5, 6, paths[5]],
      [tree[5], 5, 16, paths[5].slice(0, 3)],
      [tree[5], 5, 16, [...paths[5], paths[5][0]]],
    ]
    for (let k = 0; k < paths[5].length; k++) {
      // the sibling at each height swapped for another genuine node of the same tree
      const altered = [...paths[5]]
      altered[k] = paths[9][k] === altered[k] ? paths[1][k] : paths[9][k]
      refused.push([tree[5], 5, 16, altered])
    }
    for (const [leaf, index, size, p] of refused) {
      expect(full(leaf, index, size, p)).not.toBe(root)
      expect(withMemo(leaf, index, size, p)).toBe(full(leaf, index, size, p))
    }
    // the size shapes only the right edge: where a full climb agrees, so does the memo
    expect(withMemo(tree[5], 5, 15, paths[5])).toBe(full(tree[5], 5, 15, paths[5]))
  })

  it('a full memo starts over instead of growing', () => {
    const memo = new PathMemo(4)
    const tree = leaves(64)
    const paths = inclusionPaths(tree).map((p) => p.map(toBase64))
    for (const [i, path] of paths.entries()) rootFromTextPath(tree[i], i, 64, path, memo)
    expect(memo.size).toBeLessThanOrEqual(4)
  })

  it('a path fits a leaf of a tree exactly when a climb along it reaches a root', () => {
    const sibling = new Uint8Array(HASH_BYTES).fill(3)
    let fits = 0
    for (let size = 1; size <= 40; size++) {
      const tree = leaves(size)
      for (let index = -1; index <= size; index++)
        for (let length = 0; length <= 8; length++) {
          const climbs = rootFromPath(tree[0], index, size, Array(length).fill(sibling)) !== undefined
          expect(pathFits(index, size, length), `${index} of ${size}, ${length} siblings`).toBe(climbs)
          if (climbs) fits++
        }
      // every real path fits
      for (const [i, path] of inclusionPaths(tree).entries())
        expect(pathFits(i, size, path.length)).toBe(true)
    }
    // one length per leaf of each tree
    expect(fits).toBe((40 * 41) / 2)
    expect(pathFits(1.5, 4, 2)).toBe(false)
  })
})

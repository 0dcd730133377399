import { hash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { SODIUM_MAX_BYTES, sha256 } from '../../src/util/sha256.ts'

describe('sha256', () => {
  it("is Node's SHA-256 on both sides of the size where it changes implementation", () => {
    for (let size = 0; size <= 3 * SODIUM_MAX_BYTES; size++) {
      const input = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff)
      const digest = sha256(input)
      expect(digest.byteLength).toBe(32)
      expect(Buffer.from(digest).equals(hash('sha256', input, 'buffer') as unknown as Buffer)).toBe(true)
    }
  })

  it('hashes a view of a larger buffer, not the buffer around it, and gives a new array each time', () => {
    const backing = new Uint8Array(200).fill(9)
    const view = backing.subarray(10, 75)
    const first = sha256(view)
    expect(Buffer.from(first).equals(hash('sha256', Buffer.from(view), 'buffer') as unknown as Buffer)).toBe(
      true,
    )
    expect(sha256(view)).not.toBe(first)
  })
})

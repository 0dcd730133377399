import { describe, expect, it } from 'vitest'
import { ownBytes } from '../../src/util/own-bytes.ts'

describe('ownBytes', () => {
  it('copies a view into a larger buffer (a Buffer’s too), and keeps a buffer of its own as it is', () => {
    const chunk = new Uint8Array(1 << 20).fill(7)
    const view = chunk.subarray(100, 1_100)
    const kept = ownBytes(view)
    expect(kept.buffer.byteLength).toBe(1_000)
    expect(kept).toEqual(view)
    const fromNetwork = Buffer.from(chunk.buffer, 5, 900) // a Buffer's own `slice` would share
    const copied = ownBytes(fromNetwork)
    expect(copied.buffer.byteLength).toBe(900)
    expect([...copied]).toEqual([...fromNetwork])
    const whole = new Uint8Array(64)
    expect(ownBytes(whole)).toBe(whole)
  })
})

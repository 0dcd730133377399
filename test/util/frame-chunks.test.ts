import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { chunksOf, frameChunks } from '../../src/util/frame-chunks.ts'

describe('frameChunks', () => {
  it('keeps every item in order, each chunk within both limits unless one item alone exceeds the bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 200 }), { maxLength: 300 }),
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 1, max: 20 }),
        (sizes, maxBytes, maxCount) => {
          const chunks = [...frameChunks(sizes, (s) => s, maxBytes, maxCount)]
          expect(chunks.flat()).toEqual(sizes)
          for (const chunk of chunks) {
            expect(chunk.length).toBeGreaterThan(0)
            expect(chunk.length).toBeLessThanOrEqual(maxCount)
            const bytes = chunk.reduce((a, b) => a + b, 0)
            if (chunk.length > 1) expect(bytes).toBeLessThanOrEqual(maxBytes)
          }
          // as few chunks as the greedy split allows: no chunk could have taken the next one's first item
          for (let i = 0; i + 1 < chunks.length; i++) {
            const bytes = chunks[i].reduce((a, b) => a + b, 0)
            expect(chunks[i].length >= maxCount || bytes + chunks[i + 1][0] > maxBytes).toBe(true)
          }
        },
      ),
    )
  })

  it('asks each item its size once', () => {
    const asked: number[] = []
    const sizeOf = (s: number) => {
      asked.push(s)
      return s
    }
    const chunks = [...frameChunks([5, 5, 5], sizeOf, 10, 10)]
    expect(chunks).toEqual([[5, 5], [5]])
    expect(asked).toEqual([5, 5, 5])
  })
})

describe('chunksOf', () => {
  it('cuts a list into consecutive lists of at most the size, none empty', () => {
    expect(chunksOf([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]])
    expect(chunksOf([1, 2], 2)).toEqual([[1, 2]])
    expect(chunksOf([], 3)).toEqual([])
  })
})

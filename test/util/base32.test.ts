import fc from 'fast-check'
import { toString as bytesToString } from 'uint8arrays'
import { describe, expect, it } from 'vitest'
import { toBase32 } from '../../src/util/base32.ts'

describe('toBase32', () => {
  it('is the RFC 4648 test vectors, lower case and unpadded', () => {
    const vectors = ['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar']
    expect(vectors.map((v) => toBase32(Buffer.from(v)))).toEqual([
      '',
      'my',
      'mzxq',
      'mzxw6',
      'mzxw6yq',
      'mzxw6ytb',
      'mzxw6ytboi',
    ])
  })

  it('writes what uint8arrays writes for any bytes (the text kad-dht names its keys with)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(toBase32(bytes)).toBe(bytesToString(bytes, 'base32'))
      }),
      { numRuns: 500 },
    )
  })
})

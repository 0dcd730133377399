import { LengthPrefixedDecoder } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import '../../../src/node/wire/length-prefix-decoder.ts'

/** Noise's length prefix: two bytes, big-endian; throws a fresh RangeError when short (as noise does). */
function uint16BE(data: Uint8ArrayList | Uint8Array): number {
  if (data.length < 2) throw new RangeError('Could not decode int16BE')
  return data instanceof Uint8Array ? (data[0] << 8) + data[1] : data.getUint16(0)
}

/** `n` frames of 2-byte length + body, the body of frame i filled with i. */
function frames(sizes: number[]): Uint8Array {
  const out = new Uint8ArrayList()
  sizes.forEach((size, i) => {
    out.append(Uint8Array.of(size >> 8, size & 0xff))
    out.append(new Uint8Array(size).fill(i))
  })
  return out.subarray()
}

function decodeAll(decoder: LengthPrefixedDecoder, chunks: Uint8Array[]): number[][] {
  const out: number[][] = []
  for (const chunk of chunks) for (const f of decoder.decode(chunk)) out.push([...f.subarray()])
  return out
}

describe('length-prefixed decoder without an exception per chunk', () => {
  it('decodes whole, several and split frames as before', () => {
    const bytes = frames([3, 0x1ff, 1, 5])
    const expected = [[0, 0, 0], new Array(0x1ff).fill(1), [2], [3, 3, 3, 3, 3]]
    const whole = new LengthPrefixedDecoder({ lengthDecoder: uint16BE, encodingLength: () => 2 })
    expect(decodeAll(whole, [bytes])).toEqual(expected)
    // split everywhere, in the length prefix too
    const split = new LengthPrefixedDecoder({ lengthDecoder: uint16BE, encodingLength: () => 2 })
    const bytewise = [...bytes].map((b) => Uint8Array.of(b))
    expect(decodeAll(split, bytewise)).toEqual(expected)
  })

  it('never asks the length decoder about an empty buffer', () => {
    const asked: number[] = []
    const decoder = new LengthPrefixedDecoder({
      lengthDecoder: (data) => {
        asked.push(data.byteLength)
        return uint16BE(data)
      },
      encodingLength: () => 2,
    })
    expect(decodeAll(decoder, [frames([4, 4]), frames([1])])).toHaveLength(3)
    expect(asked).toEqual([12, 6, 3])
  })

  it('keeps refusing an oversized length', () => {
    const decoder = new LengthPrefixedDecoder({
      lengthDecoder: uint16BE,
      encodingLength: () => 2,
      maxDataLength: 10,
    })
    expect(() => decodeAll(decoder, [frames([11])])).toThrow(/length/i)
  })
})

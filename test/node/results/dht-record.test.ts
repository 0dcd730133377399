import { Libp2pRecord } from '@libp2p/record'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { rfc3339Nano, serializeDhtRecord } from '../../../src/node/results/dht-record.ts'

const bytes = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength)

describe('serializeDhtRecord', () => {
  it("writes @libp2p/record's bytes for any key, value (text or bytes) and time", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        // up to 20,000 characters: one-, two- and three-byte length varints, multi-byte UTF-8
        fc.string({ unit: 'binary', minLength: 1, maxLength: 20_000 }),
        fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2200, 0, 1) }),
        (key, text, at) => {
          const value = Buffer.from(text, 'utf8')
          const expected = new Libp2pRecord(key, value, new Date(at)).serialize()
          // the text in pieces (cut at code points), with its UTF-8 length, as a keeper gives it
          const points = [...text]
          const cut = Math.floor(points.length / 3)
          const pieces = [points.slice(0, cut).join(''), '', points.slice(cut).join('')]
          for (const given of [text, new Uint8Array(value), { pieces, bytes: value.byteLength }]) {
            const out = serializeDhtRecord(key, given, at)
            expect(bytes(out.serialized).equals(bytes(expected))).toBe(true)
            expect(bytes(out.value).equals(value)).toBe(true)
          }
        },
      ),
      { numRuns: 200 },
    )
  })

  it('gives the value as a view into the serialized record, which kad-dht reads back', () => {
    const key = Buffer.from('/taskmesh-result/bafkrei')
    const out = serializeDhtRecord(key, '{"record":"é"}', Date.UTC(2026, 11, 5, 1, 2, 3, 45))
    expect(out.value.buffer).toBe(out.serialized.buffer)
    const back = Libp2pRecord.deserialize(out.serialized)
    expect(Buffer.from(back.value).toString('utf8')).toBe('{"record":"é"}')
    expect(bytes(back.key).equals(key)).toBe(true)
    expect(back.timeReceived.getTime()).toBe(Date.UTC(2026, 11, 5, 1, 2, 3, 45))
  })

  it('refuses pieces whose UTF-8 length is not the one given', () => {
    expect(() => serializeDhtRecord(new Uint8Array([1]), { pieces: ['é'], bytes: 1 })).toThrow(
      /2 bytes, said to be 1/,
    )
  })

  it('writes the receive time as RFC 3339 with nanoseconds, for each millisecond asked', () => {
    expect(rfc3339Nano(Date.UTC(2026, 0, 2, 3, 4, 5, 6))).toBe('2026-01-02T03:04:05.006000000Z')
    expect(rfc3339Nano(Date.UTC(2026, 0, 2, 3, 4, 5, 7))).toBe('2026-01-02T03:04:05.007000000Z')
  })
})

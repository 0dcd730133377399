import { LengthPrefixedDecoder } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * `LengthPrefixedDecoder` of `@libp2p/utils` (Noise reads every encrypted message of a connection
 * through one) learns that it has read every whole message of a chunk by calling its length decoder
 * on the empty rest and catching the `RangeError` that throws: a fresh error, with its stack trace,
 * for every chunk a connection receives. That one exception cost more than the rest of the decode
 * (6.7 µs against 1.8 µs a chunk here) and was a tenth of the CPU of a custody round trip.
 *
 * Each decoder's length decoder is wrapped so that an empty buffer throws one `RangeError` made
 * once: the library's loop ends exactly as before, without building a stack trace. A buffer that
 * holds part of a length still reaches the library's own decoder.
 */
interface DecoderFields {
  lengthDecoder(data: Uint8ArrayList | Uint8Array): number
}

/** Thrown for every empty buffer: made once, so no stack trace is captured per chunk. */
const EMPTY = new RangeError('no length prefix in an empty buffer')
/** Decoders whose length decoder is wrapped already. */
const wrapped = new WeakSet<DecoderFields>()

const proto = LengthPrefixedDecoder.prototype as unknown as {
  decode(this: DecoderFields, buf: Uint8Array | Uint8ArrayList): Generator<Uint8ArrayList>
  __taskmeshQuietEmpty?: true
}

if (proto.__taskmeshQuietEmpty !== true) {
  const decode = proto.decode
  proto.decode = function decodeQuietlyWhenEmpty(this: DecoderFields, buf) {
    if (!wrapped.has(this)) {
      const inner = this.lengthDecoder
      this.lengthDecoder = (data) => {
        if (data.byteLength === 0) throw EMPTY
        return inner(data)
      }
      wrapped.add(this)
    }
    return decode.call(this, buf)
  }
  proto.__taskmeshQuietEmpty = true
}

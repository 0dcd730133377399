import type { ConnectionProtector } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'

/**
 * Largest piece of a write the private-network cipher is given at once, in bytes. `@libp2p/pnet`
 * encrypts with the `xsalsa20` package, whose WebAssembly memory (640 KiB, shared by every cipher of
 * the process) grows to fit one `update`; after it grew once, every other cipher holds a view of
 * the old, detached memory, reads its length as 0 and grows the memory again on its next update,
 * until the 64 MiB maximum: `RangeError: WebAssembly.Memory.grow(): Maximum memory size exceeded`
 * kills the process about a thousand writes after the first write over ~640 KiB (a 1 MiB replicate
 * frame does it). Each connection's two ciphers are given pieces of 64 KiB at most, which never
 * grow the memory.
 */
export const PNET_CHUNK_BYTES = 64 * 1024

/** An xsalsa20 cipher as pnet 3's connection holds it (`inboundXor`, `outboundXor`). */
interface Cipher {
  update(input: Uint8Array, output?: Uint8Array): Uint8Array
}

/** Makes one cipher encrypt (or decrypt) in pieces of {@link PNET_CHUNK_BYTES}: the same bytes out. */
function inPieces(cipher: Cipher): void {
  const update = cipher.update.bind(cipher)
  cipher.update = (input, output = new Uint8Array(input.byteLength)) => {
    if (input.byteLength <= PNET_CHUNK_BYTES) return update(input, output)
    for (let i = 0; i < input.byteLength; i += PNET_CHUNK_BYTES) {
      const end = Math.min(input.byteLength, i + PNET_CHUNK_BYTES)
      update(input.subarray(i, end), output.subarray(i, end))
    }
    return output
  }
}

function ciphersOf(box: object): Cipher[] {
  const { inboundXor, outboundXor } = box as { inboundXor?: Cipher; outboundXor?: Cipher }
  if (typeof inboundXor?.update !== 'function' || typeof outboundXor?.update !== 'function') {
    throw new Error('@libp2p/pnet changed: its connection has no inboundXor/outboundXor cipher')
  }
  return [inboundXor, outboundXor]
}

/**
 * `preSharedKey({ psk })` of `@libp2p/pnet`, whose connections encrypt and decrypt in pieces of
 * {@link PNET_CHUNK_BYTES} (see there for the crash it avoids).
 */
export function chunkedPreSharedKey(psk: Uint8Array): () => ConnectionProtector {
  const create = preSharedKey({ psk })
  return () => {
    const protector = create()
    const protect = protector.protect.bind(protector)
    protector.protect = async (connection, options) => {
      const box = await protect(connection, options)
      for (const cipher of ciphersOf(box)) inPieces(cipher)
      return box
    }
    return protector
  }
}

import type { ConnectionProtector } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import sodium from 'sodium-native'

/**
 * The private network's ciphers. `@libp2p/pnet` encrypts every byte of a connection with XSalsa20
 * from the `xsalsa20` package (WebAssembly): each write is copied into and out of its memory, 3.9 µs
 * for 1.5 KB here, 2.5 % of the no-op daemons' CPU. libsodium's `crypto_stream_xor` is the same
 * XSalsa20 (the same key, nonce and key stream, byte for byte) at 1.45 µs, with no shared memory.
 *
 * The WebAssembly memory also crashes a process: 640 KiB shared by every cipher, it grows to fit
 * one `update`; after it grew once, every other cipher holds a view of the old, detached memory,
 * reads its length as 0 and grows it again on its next update, until the 64 MiB maximum
 * (`RangeError: WebAssembly.Memory.grow(): Maximum memory size exceeded`, about a thousand writes
 * after the first over ~640 KiB). A cipher this module cannot move to libsodium (see
 * {@link toSodium}) is given pieces of {@link PNET_CHUNK_BYTES} at most, which never grow it.
 */

/** Largest piece of a write a WebAssembly cipher is given at once, in bytes. */
export const PNET_CHUNK_BYTES = 64 * 1024

/** An xsalsa20 cipher as pnet 3's connection holds it (`inboundXor`, `outboundXor`). */
export interface Cipher {
  update(input: Uint8Array, output?: Uint8Array): Uint8Array
}

/** What `xsalsa20`'s WebAssembly cipher keeps: its slot in the shared memory (counter, nonce, key). */
interface WasmState {
  _memory: Uint8Array
  _pointer: number
  _nonce: number
  _key: number
  _overflow: number
}

function wasmStateOf(cipher: Cipher): WasmState | undefined {
  const state = (cipher as { _xor?: Partial<WasmState> })._xor
  if (!(state?._memory instanceof Uint8Array)) return undefined
  const { _pointer, _nonce, _key, _overflow } = state
  if (![_pointer, _nonce, _key, _overflow].every((n) => Number.isInteger(n))) return undefined
  return state as WasmState
}

/**
 * Moves a fresh cipher (no byte through it yet) to libsodium: from here on `update` runs
 * `crypto_stream_xor` with the cipher's own key and nonce, read from its WebAssembly slot.
 * @returns false, leaving the cipher as it was, when the slot cannot be read (another `xsalsa20`
 *   release, a detached memory view) or the cipher was used already.
 */
export function toSodium(cipher: Cipher): boolean {
  const wasm = wasmStateOf(cipher)
  if (wasm === undefined || wasm._overflow !== 0) return false
  const memory = wasm._memory
  if (
    memory.byteLength < wasm._key + 32 ||
    memory.subarray(wasm._pointer, wasm._pointer + 8).some((b) => b !== 0)
  )
    return false
  const state = new Uint8Array(sodium.crypto_stream_xor_STATEBYTES)
  sodium.crypto_stream_xor_init(
    state,
    memory.slice(wasm._nonce, wasm._nonce + 24),
    memory.slice(wasm._key, wasm._key + 32),
  )
  cipher.update = (input, output = unfilled(input.byteLength)) => {
    sodium.crypto_stream_xor_update(state, output, input)
    return output
  }
  return true
}

/**
 * A plain `Uint8Array` of `length` bytes, not zeroed (every byte is about to be written), in memory
 * outside V8's heap: `new Uint8Array(n)` zeroed each write's output (1.5 KB: 3.4–6.6 µs an update
 * against 2.4–2.7) and kept small ones in V8's heap, which a native addon's call moves out first.
 */
function unfilled(length: number): Uint8Array {
  const buf = Buffer.allocUnsafe(length)
  return new Uint8Array(buf.buffer, buf.byteOffset, length)
}

/** Makes one cipher encrypt (or decrypt) in pieces of {@link PNET_CHUNK_BYTES}: the same bytes out. */
export function inPieces(cipher: Cipher): void {
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
 * `preSharedKey({ psk })` of `@libp2p/pnet`, whose connections' ciphers run on libsodium (or, if a
 * cipher cannot be moved, in pieces of {@link PNET_CHUNK_BYTES}). The same handshake and bytes on
 * the wire: it speaks with the plain protector.
 */
export function preSharedKeyProtector(psk: Uint8Array): () => ConnectionProtector {
  const create = preSharedKey({ psk })
  return () => {
    const protector = create()
    const protect = protector.protect.bind(protector)
    protector.protect = async (connection, options) => {
      const box = await protect(connection, options)
      for (const cipher of ciphersOf(box)) if (!toSodium(cipher)) inPieces(cipher)
      return box
    }
    return protector
  }
}

import type { ICryptoInterface } from '@libp2p/noise'
import { defaultCrypto } from '@libp2p/noise/crypto'
import sodium from 'sodium-native'
import type { Uint8ArrayList } from 'uint8arraylist'

/** Bytes of a ChaCha20-Poly1305 tag. */
const TAG_BYTES = 16

const flat = (bytes: Uint8Array | Uint8ArrayList): Uint8Array =>
  bytes instanceof Uint8Array ? bytes : bytes.subarray()

/**
 * Noise's crypto with its transport cipher, ChaCha20-Poly1305 (IETF), through libsodium
 * (`sodium-native`). Every frame of every stream is sealed once and opened once: Noise's own cipher
 * makes a cipher object per message (Node's) or copies it into WebAssembly memory, 3–10 µs for the
 * 0.1–4 KB messages of the mesh against 1.1–4.5 µs here. The same algorithm, nonces, associated
 * data and tag (Noise spec § 12.3): a peer with any other implementation reads it. The rest of the
 * crypto (hashes, HKDF, X25519) is `base`'s.
 */
export function sodiumCipherCrypto(base: ICryptoInterface = defaultCrypto): ICryptoInterface {
  return {
    ...base,
    chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
      const message = flat(plaintext)
      const sealed = Buffer.allocUnsafe(message.byteLength + TAG_BYTES)
      sodium.crypto_aead_chacha20poly1305_ietf_encrypt(sealed, message, ad, null, nonce, k)
      return sealed
    },
    chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst) {
      const sealed = flat(ciphertext)
      if (sealed.byteLength < TAG_BYTES) throw new Error('Invalid chacha20poly1305 decryption')
      const length = sealed.byteLength - TAG_BYTES
      // Noise hands the ciphertext's own bytes as `dst` (opened in place, which libsodium allows);
      // any other overlap would be read after it was written, so it gets a buffer of its own
      const inPlace =
        dst !== undefined &&
        dst.byteLength >= length &&
        (dst.buffer !== sealed.buffer || dst.byteOffset === sealed.byteOffset)
      const message = inPlace ? dst.subarray(0, length) : Buffer.allocUnsafe(length)
      try {
        sodium.crypto_aead_chacha20poly1305_ietf_decrypt(message, null, sealed, ad, nonce, k)
      } catch {
        throw new Error('Invalid chacha20poly1305 decryption')
      }
      return message
    },
  }
}

/**
 * The few libsodium calls taskmesh makes through `sodium-native` (the package ships no types).
 * Every buffer is written in place; sizes are libsodium's (`crypto_sign_BYTES` 64, public key 32,
 * secret key 64, seed 32; ChaCha20-Poly1305 IETF key 32, nonce 12, tag 16). A wrong size throws.
 */
declare module 'sodium-native' {
  /** Ed25519: the key pair of a 32-byte seed. */
  export function crypto_sign_seed_keypair(
    publicKey: Uint8Array,
    secretKey: Uint8Array,
    seed: Uint8Array,
  ): void
  /** Ed25519: writes the 64-byte signature of `message` made with the 64-byte secret key. */
  export function crypto_sign_detached(
    signature: Uint8Array,
    message: Uint8Array,
    secretKey: Uint8Array,
  ): void
  /** SHA-256 of `input` into `output` (32 bytes). */
  export function crypto_hash_sha256(output: Uint8Array, input: Uint8Array): void
  /** Ed25519: true when `signature` is the key's signature of `message`. */
  export function crypto_sign_verify_detached(
    signature: Uint8Array,
    message: Uint8Array,
    publicKey: Uint8Array,
  ): boolean
  /** ChaCha20-Poly1305 (IETF): writes `message` sealed (ciphertext ‖ tag) into `ciphertext`; its length. */
  export function crypto_aead_chacha20poly1305_ietf_encrypt(
    ciphertext: Uint8Array,
    message: Uint8Array,
    additionalData: Uint8Array | null,
    secretNonce: null,
    publicNonce: Uint8Array,
    key: Uint8Array,
  ): number
  /** ChaCha20-Poly1305 (IETF): opens `ciphertext` into `message`; its length. Throws when it does not verify. */
  export function crypto_aead_chacha20poly1305_ietf_decrypt(
    message: Uint8Array,
    secretNonce: null,
    ciphertext: Uint8Array,
    additionalData: Uint8Array | null,
    publicNonce: Uint8Array,
    key: Uint8Array,
  ): number
  /** Bytes of a {@link crypto_stream_xor_init} state. */
  export const crypto_stream_xor_STATEBYTES: number
  /** XSalsa20 as a stream: a state of the 24-byte nonce and 32-byte key. */
  export function crypto_stream_xor_init(state: Uint8Array, nonce: Uint8Array, key: Uint8Array): void
  /** XSalsa20 as a stream: XORs `message` with the next bytes of the key stream into `ciphertext`. */
  export function crypto_stream_xor_update(
    state: Uint8Array,
    ciphertext: Uint8Array,
    message: Uint8Array,
  ): void
}

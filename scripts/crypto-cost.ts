/**
 * What the per-task crypto costs here, each operation beside the implementation it replaced, in
 * the same run: Ed25519 verify and sign (libsodium against Node's own, raw keys parsed once),
 * Noise's ChaCha20-Poly1305 seal and open (libsodium against `@libp2p/noise`'s default crypto), and
 * the private network's XSalsa20 (libsodium against `@libp2p/pnet`'s WebAssembly cipher), at the
 * sizes the mesh sends. Microseconds per operation, best of 3 rounds.
 *
 *   npx tsx scripts/crypto-cost.ts [--ops 5000]
 */
import '../src/polyfill.ts'
import { generateKeyPairSync, hash, sign, verify } from 'node:crypto'
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { preSharedKey } from '@libp2p/pnet'
import { multiaddrConnectionPair } from '@libp2p/utils'
import sodium from 'sodium-native'
import { sodiumCipherCrypto } from '../src/node/wire/noise-cipher.ts'
import { type Cipher, toSodium } from '../src/node/wire/pnet-cipher.ts'
import { generateSwarmKey } from '../src/node/wire/swarm-key.ts'
import { signEd25519, verifyByPeer } from '../src/protocol/records/ed25519.ts'
import { SODIUM_MAX_BYTES } from '../src/util/sha256.ts'

const { values } = parseArgs({ options: { ops: { type: 'string', default: '5000' } } })
const ops = Number(values.ops)
if (!Number.isInteger(ops) || ops < 100) throw new Error(`--ops: a whole number >= 100, got ${values.ops}`)

/** Best of 3 rounds of `ops` calls, µs per call. */
function cost(fn: () => unknown): number {
  let best = Number.POSITIVE_INFINITY
  for (let round = 0; round < 3; round++) {
    const start = performance.now()
    for (let i = 0; i < ops; i++) fn()
    best = Math.min(best, ((performance.now() - start) * 1000) / ops)
  }
  return best
}

const rows: Array<[string, number, number]> = []

const key = await generateKeyPair('Ed25519')
const peer = peerIdFromPrivateKey(key).toString()
const payload = new Uint8Array(41).fill(7) // a batch root's signing payload
const signature = signEd25519(key, payload)
const node = generateKeyPairSync('ed25519')
const nodeSignature = sign(null, payload, node.privateKey)
rows.push([
  'Ed25519 verify',
  cost(() => verifyByPeer(peer, payload, signature)),
  cost(() => verify(null, payload, node.publicKey, nodeSignature)),
])
rows.push([
  'Ed25519 sign',
  cost(() => signEd25519(key, payload)),
  cost(() => sign(null, payload, node.privateKey)),
])

// a Merkle inner node, a kad id, a lease leaf, SODIUM_MAX_BYTES, a record leaf: libsodium against Node's
for (const size of [40, 65, 150, SODIUM_MAX_BYTES, 400, 1100]) {
  const input = new Uint8Array(size).fill(4)
  const out = new Uint8Array(32)
  rows.push([
    `SHA-256, ${size} B`,
    cost(() => sodium.crypto_hash_sha256(out, input)),
    cost(() => hash('sha256', input, 'buffer')),
  ])
}

const sodiumNoise = sodiumCipherCrypto()
const k = new Uint8Array(32).fill(3)
const nonce = new Uint8Array(12).fill(1)
const ad = new Uint8Array(0)
for (const size of [100, 1500, 4000]) {
  const message = new Uint8Array(size).fill(9)
  const sealed = sodiumNoise.chaCha20Poly1305Encrypt(message, nonce, ad, k).subarray()
  rows.push([
    `Noise seal, ${size} B`,
    cost(() => sodiumNoise.chaCha20Poly1305Encrypt(message, nonce, ad, k)),
    cost(() => defaultCrypto.chaCha20Poly1305Encrypt(message, nonce, ad, k)),
  ])
  rows.push([
    `Noise open, ${size} B`,
    cost(() => sodiumNoise.chaCha20Poly1305Decrypt(sealed, nonce, ad, k)),
    cost(() => defaultCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, k)),
  ])
}

// two fresh pnet ciphers of one connection end: one moved to libsodium, one left as pnet made it
const psk = generateSwarmKey()
const [a, b] = multiaddrConnectionPair()
const [near] = (await Promise.all([
  preSharedKey({ psk })().protect(a),
  preSharedKey({ psk })().protect(b),
])) as unknown as Array<{
  inboundXor: Cipher
  outboundXor: Cipher
}>
const moved = near.outboundXor
if (!toSodium(moved)) throw new Error('the pnet cipher could not be moved to libsodium')
const wasm = near.inboundXor
for (const size of [100, 1500, 4000]) {
  const input = new Uint8Array(size).fill(5)
  const output = new Uint8Array(size)
  rows.push([
    `pnet XSalsa20, ${size} B`,
    cost(() => moved.update(input, output)),
    cost(() => wasm.update(input, output)),
  ])
}

console.log(
  `${'operation'.padEnd(24)}${'libsodium µs'.padStart(14)}${'replaced µs'.padStart(14)}${'ratio'.padStart(8)}`,
)
for (const [name, ours, theirs] of rows) {
  console.log(
    `${name.padEnd(24)}${ours.toFixed(2).padStart(14)}${theirs.toFixed(2).padStart(14)}${`${(ours / theirs).toFixed(2)}×`.padStart(8)}`,
  )
}
console.log(
  `\nreplaced: Node's own Ed25519 (key objects) and one-shot SHA-256 (\`crypto.hash\`; taskmesh's sha256 takes libsodium's up to ${SODIUM_MAX_BYTES} bytes only), @libp2p/noise's default ChaCha20-Poly1305, @libp2p/pnet's xsalsa20 (WebAssembly); node ${process.version}, best of 3 × ${ops}`,
)

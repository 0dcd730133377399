/**
 * The least a kept copy can cost a node, built from the parts a copy cannot do without, each timed
 * alone on the same records: the bytes through the two ciphers of a private mesh's connection
 * (Noise's ChaCha20-Poly1305 and the swarm key's XSalsa20, libsodium, as the node runs them), the
 * `store` frame's JSON parse, every check of a stored value at its cheapest (the signer's own
 * batch: no signature, no proof climb — `openEnvelopeText` as a keeper calls it), and the write of
 * the kad-dht record (batches of a frame's records; LevelDB's background compaction included: CPU of
 * every thread until it settles). The
 * sum is a floor: no framing, muxing, sessions, replies, fencing, index or garbage of the node's
 * own — what `npx tsx scripts/replica-cost.ts` measures beside it is what those cost. The write is
 * timed twice: into LevelDB alone, and into a node's own datastore (`openNodeDatastore`: the values
 * appended to a log file, LevelDB holding only where each one is). `--frames` sets the
 * records per round, so the size LevelDB grows to (its compaction costs more per record as it grows).
 *
 *   npx tsx scripts/copy-floor.ts [--rounds 5] [--frames 400]
 */
import '../src/polyfill.ts'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { LevelDatastore } from 'datastore-level'
import type { Datastore } from 'interface-datastore'
import sodium from 'sodium-native'
import { serializeDhtRecord } from '../src/node/results/dht-record.ts'
import { dhtRecordKey } from '../src/node/results/fencing.ts'
import { openNodeDatastore } from '../src/node/results/value-log.ts'
import { isWellFormedStoreRequest } from '../src/protocol/messages/replicate-messages.ts'
import { openEnvelopeText, resultKey } from '../src/protocol/records/result-record.ts'
import { VerifiedRoots } from '../src/protocol/records/verified-roots.ts'
import { EXECUTOR } from '../test/protocol/fixtures.ts'
import { signedStoreFrame } from './bench/store-frames.ts'

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, frames: { type: 'string', default: '400' } },
})
const rounds = Number(values.rounds)
const framesPerRound = Number(values.frames)
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(framesPerRound) || framesPerRound < 10) {
  throw new Error('usage: npx tsx scripts/copy-floor.ts [--rounds n >= 1] [--frames n >= 10]')
}
/** Records per frame and per signed batch: about what a keeper of the no-op run gets in one. */
const BATCH = 50
/** Largest Noise message: a frame goes through the ciphers in pieces this long. */
const NOISE_PIECE = 65_519
/** How long the writes' compaction is given to end, ms (its CPU counts). */
const SETTLE_MS = 2_000

/** One round's store frames, as their bytes on the stream: new records, signed in batches. */
function frames(round: number): Uint8Array[] {
  return Array.from({ length: framesPerRound }, (_, f) =>
    signedStoreFrame(String(f), round * 10_000_000 + f * 1_000, BATCH),
  )
}

/** µs of CPU (every thread of this process) per copy of `run` over a round's frames, best of the rounds. */
async function perCopy(sets: Uint8Array[][], run: (frames: Uint8Array[]) => unknown): Promise<number> {
  let best = Number.POSITIVE_INFINITY
  for (const [i, set] of sets.entries()) {
    const before = process.cpuUsage()
    await run(set)
    const used = process.cpuUsage(before)
    if (i > 0) best = Math.min(best, (used.user + used.system) / (set.length * BATCH))
  }
  return best
}

const sets = Array.from({ length: rounds + 1 }, (_, r) => frames(r + 1))
const bytesPerCopy = sets[0].reduce((n, f) => n + f.byteLength, 0) / (framesPerRound * BATCH)

// the two ciphers, both ends (the sender encrypts, the keeper decrypts: the same work each way)
const key = randomBytes(32)
const nonce = Buffer.alloc(12)
const streamState = Buffer.alloc(sodium.crypto_stream_xor_STATEBYTES)
sodium.crypto_stream_xor_init(streamState, randomBytes(24), randomBytes(32))
const ciphers = await perCopy(sets, (set) => {
  for (const frame of set) {
    for (let at = 0; at < frame.byteLength; at += NOISE_PIECE) {
      const piece = frame.subarray(at, at + NOISE_PIECE)
      const sealed = Buffer.alloc(piece.byteLength + 16)
      sodium.crypto_aead_chacha20poly1305_ietf_encrypt(sealed, piece, null, null, nonce, key)
      const opened = Buffer.alloc(piece.byteLength)
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt(opened, null, sealed, null, nonce, key)
      const xored = Buffer.alloc(sealed.byteLength)
      sodium.crypto_stream_xor_update(streamState, xored, sealed)
      sodium.crypto_stream_xor_update(streamState, xored, xored)
    }
  }
})

const decoder = new TextDecoder()
const parse = await perCopy(sets, (set) => {
  for (const frame of set) {
    if (!isWellFormedStoreRequest(JSON.parse(decoder.decode(frame))))
      throw new Error('a frame failed its check')
  }
})

type Parsed = ReturnType<typeof JSON.parse>
const parsedSets = sets.map((set) => set.map((f): Parsed => JSON.parse(decoder.decode(f))))
let stored: Array<Array<{ key: Uint8Array; text: string }>> = []
const checks = await perCopy(sets, (set) => {
  const roots = new VerifiedRoots()
  const i = sets.indexOf(set)
  stored[i] = parsedSets[i].flatMap((frame: Parsed) =>
    frame.records.map((envelope: Parsed) => {
      const { record, value } = openEnvelopeText(envelope, roots, EXECUTOR)
      return { key: resultKey(record.taskId), text: value }
    }),
  )
})

/**
 * CPU of every thread per record of writing every round's records (the first warms up) with
 * `writeBatch`, then until LevelDB's compaction of them settles on its own thread (compaction is not
 * per round, so this is the mean over the rounds, not the best).
 */
async function perWrite(
  writeBatch: (items: Array<{ key: Uint8Array; text: string }>) => Promise<void>,
): Promise<number> {
  const write = async (items: Array<{ key: Uint8Array; text: string }>) => {
    for (let at = 0; at < items.length; at += BATCH) await writeBatch(items.slice(at, at + BATCH))
  }
  await write(stored[0])
  const before = process.cpuUsage()
  for (const items of stored.slice(1)) await write(items)
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
  const used = process.cpuUsage(before)
  return (used.user + used.system) / (rounds * framesPerRound * BATCH)
}

const dir = await mkdtemp(join(tmpdir(), 'copy-floor-'))
let write: number
let separated: number
try {
  const writeTo = (datastore: Datastore) => async (items: Array<{ key: Uint8Array; text: string }>) => {
    const batch = datastore.batch()
    for (const { key, text } of items) batch.put(dhtRecordKey(key), serializeDhtRecord(key, text).serialized)
    await batch.commit()
  }
  const level = new LevelDatastore(join(dir, 'level'))
  await level.open()
  write = await perWrite(writeTo(level))
  await level.close()
  // the same into a node's datastore: the values in its log, LevelDB holding where each one is
  await mkdir(join(dir, 'node'))
  const node = await openNodeDatastore(join(dir, 'node'))
  separated = await perWrite(writeTo(node))
  await node.close()
} finally {
  await rm(dir, { recursive: true, force: true })
  stored = []
}

const floor = ciphers + parse + checks
const row = (what: string, us: number) => console.log(`  ${what.padEnd(64)} ${us.toFixed(1).padStart(6)} µs`)
console.log(
  `A kept copy's floor, CPU of every thread per copy, best of ${rounds} rounds of ${framesPerRound} frames × ${BATCH} records (${bytesPerCopy.toFixed(0)} bytes per copy on the wire):`,
)
row('Noise + swarm-key ciphers, both ends', ciphers)
row("the store frame's JSON parse and quick check", parse)
row("a stored value's checks at their cheapest (the signer's own batch)", checks)
row('the kad-dht record written to LevelDB, compaction included (mean)', write)
row("the same into a node's datastore: the value in its log (mean)", separated)
row('floor, written to LevelDB', floor + write)
row("floor, written into a node's datastore", floor + separated)

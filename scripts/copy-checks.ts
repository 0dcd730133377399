/**
 * What a kept copy's checks cost in CPU, without the network or the store: `store` frames of
 * 16-record batches (each batch new, as a keeping node sees them) parsed, quick-checked and opened
 * (`isWellFormedStoreRequest`, `openEnvelopeText`: executor key, canonical JSON, leaf hash, proof climb
 * through the memo, the batch signature once per batch), and the proof climb through the memo by
 * itself. CPU time (`process.cpuUsage`), best of `--rounds`: on this shared VM wall time drifts
 * with the neighbours, CPU time much less. Run it in two checkouts, alternating, to compare.
 *
 *   npx tsx scripts/copy-checks.ts [--rounds 12]
 */
import '../src/polyfill.ts'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { isWellFormedStoreRequest } from '../src/protocol/messages/replicate-messages.ts'
import { inclusionPaths, leafHash, PathMemo, rootFromTextPath } from '../src/protocol/records/merkle.ts'
import { openEnvelopeText } from '../src/protocol/records/result-record.ts'
import { VerifiedRoots } from '../src/protocol/records/verified-roots.ts'
import { toBase64 } from '../src/util/base64.ts'
import { signedStoreFrame } from './bench/store-frames.ts'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '12' } } })
const rounds = Number(values.rounds)
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error(`--rounds: a whole number >= 1, got ${values.rounds}`)
const BATCH = 16
const FRAMES = 150

/** µs of CPU per unit (`units` per set) of `run` over each set, the best of the rounds (a first round warms up). */
function cpuPer<T>(sets: T[][], units: number, run: (items: T[]) => void): number {
  let best = Number.POSITIVE_INFINITY
  for (const [i, items] of sets.entries()) {
    const before = process.cpuUsage()
    run(items)
    const used = process.cpuUsage(before)
    if (i > 0) best = Math.min(best, (used.user + used.system) / units)
  }
  return best
}

/** One round's frames: each a new batch of records, as its text. */
function storeFrames(round: number): string[] {
  return Array.from({ length: FRAMES }, (_, f) =>
    Buffer.from(signedStoreFrame(String(f), round * 1_000_000 + f * 100, BATCH)).toString(),
  )
}

const frameSets = Array.from({ length: rounds + 1 }, (_, r) => storeFrames(r + 1))
const perCopy = cpuPer(frameSets, FRAMES * BATCH, (frames) => {
  const roots = new VerifiedRoots()
  for (const text of frames) {
    const frame = JSON.parse(text)
    if (!isWellFormedStoreRequest(frame)) throw new Error('a frame failed the quick check')
    for (const envelope of frame.records) openEnvelopeText(envelope, roots)
  }
})

type Climb = { leaf: Uint8Array; index: number; path: string[] }
const climbSets = Array.from({ length: rounds + 1 }, () =>
  Array.from({ length: FRAMES * 4 }, () => {
    const leaves = Array.from({ length: BATCH }, () => leafHash(randomBytes(200)))
    const paths = inclusionPaths(leaves).map((p) => p.map(toBase64))
    return leaves.map((leaf, index): Climb => ({ leaf, index, path: paths[index] }))
  }).flat(),
)
const perClimb = cpuPer(climbSets, FRAMES * 4 * BATCH, (items) => {
  const memo = new PathMemo()
  for (const c of items) {
    if (rootFromTextPath(c.leaf, c.index, BATCH, c.path, memo) === undefined)
      throw new Error('a climb failed')
  }
})

console.log(`CPU per copy, best of ${rounds} rounds (batches of ${BATCH}, each new):`)
console.log(`  parse + quick check + open of a store frame's record   ${perCopy.toFixed(2)} µs`)
console.log(`  the proof climb through the memo alone                 ${perClimb.toFixed(2)} µs`)

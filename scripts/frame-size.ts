/**
 * What a received frame's bytes cost by the frame's size: the UTF-8 decode to text and the
 * `JSON.parse` every frame goes through (`decodeMessage`), and the copy that joins a frame's
 * pieces (`Buffer.concat`), for `store` frames of result records from 32 KiB to 1 MiB. Text over
 * 128 KiB is a large V8 object (memory mapped for it, written page by page): its decode costs
 * ~40× as much per byte as a smaller frame's, decode and parse together ~3× (the join does not
 * change), which is why senders keep frames within `FRAME_BUDGET_BYTES`
 * (src/protocol/constants.ts). Prints µs per KiB at each size and the ratio to the budget's.
 *
 *   npx tsx scripts/frame-size.ts
 */
import { FRAME_BUDGET_BYTES } from '../src/protocol/constants.ts'

const record = JSON.stringify({
  record: {
    epoch: 1,
    executor: '12D3KooWFvNJDic48yEMsRYfQbqX3JrxBzqFBdSskWnFepgmSsmF',
    finishedAt: 1_764_800_000_000,
    output: null,
    startedAt: 1_764_800_000_000,
    status: 'succeeded',
    taskId: 'bafkreia'.padEnd(59, 'q'),
  },
  signature: `${'A'.repeat(86)}==`,
  proof: { index: 3, size: 64, path: Array.from({ length: 6 }, () => `${'B'.repeat(43)}=`) },
})

/** A `store` frame of about `bytes` bytes. */
function frameOf(bytes: number): Buffer {
  const n = Math.max(1, Math.floor(bytes / (record.length + 1)))
  return Buffer.from(`{"type":"store","requestId":"r","values":[${Array(n).fill(record).join(',')}]}`)
}

/** µs per KiB of `work` on `frame`, the best of 5 rounds of enough calls for ~20 MiB. */
function perKiB(frame: Buffer, work: (frame: Buffer) => number): number {
  const calls = Math.max(20, Math.ceil((20 * 1024 * 1024) / frame.byteLength))
  let best = Number.POSITIVE_INFINITY
  let sink = 0
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now()
    for (let i = 0; i < calls; i++) sink += work(frame)
    best = Math.min(best, (performance.now() - t0) / calls)
  }
  if (sink < 0) console.log(sink)
  return (best * 1000) / (frame.byteLength / 1024)
}

const decode = (f: Buffer) => f.toString('utf8').length
const parse = (f: Buffer) => (JSON.parse(f.toString('utf8')) as { values: unknown[] }).values.length
const join = (f: Buffer) => Buffer.concat([f.subarray(0, 4096), f.subarray(4096)]).byteLength

const KiB = 1024
const sizes = [32, 64, FRAME_BUDGET_BYTES / KiB, 120, 127, 130, 256, 512, 1024]
// a first pass warms every path; the second is printed
let rows: Array<{ kib: number; figures: number[] }> = []
for (let pass = 0; pass < 2; pass++) {
  rows = sizes.map((kib) => {
    const frame = frameOf(kib * KiB)
    return { kib, figures: [decode, parse, join].map((work) => perKiB(frame, work)) }
  })
}
const budget = rows.find((r) => r.kib * KiB === FRAME_BUDGET_BYTES)?.figures ?? [1, 1, 1]
console.log("µs per KiB of frame (× the budget's): UTF-8 decode, decode + JSON.parse, join of its pieces")
for (const { kib, figures } of rows) {
  const label = `${kib} KiB${kib * KiB === FRAME_BUDGET_BYTES ? ' (the budget)' : ''}`
  const cells = figures.map((f, i) => `${f.toFixed(2).padStart(7)} (${(f / budget[i]).toFixed(1)}×)`)
  console.log(`${label.padEnd(20)} ${cells.join('   ')}`)
}

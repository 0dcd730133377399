/**
 * What decoding one frame of the steal and replicate protocols costs (`decodeMessage` with the
 * schema a node decodes it by: UTF-8, JSON, shape checks, the hand-written check, zod when that
 * refuses), per frame kind, this build beside another checkout's build: a grant of 6 tasks (one
 * batch proof), a `complete` carrying a signed record, its verdict, a `steal` request and a
 * `store` reply. The frames are the same bytes for both builds; each figure is the best of 3
 * rounds of 20,000 decodes, the builds alternating.
 *
 *   npm run build && npx tsx scripts/decode-cost.ts --base <checkout with a build>
 */

import { parseArgs } from 'node:util'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { GrantSigner } from '../src/protocol/records/grant-proof.ts'
import { signResultBatch } from '../src/protocol/records/result-record.ts'
import { parseTaskSpec } from '../src/task/spec.ts'
import { taskId } from '../src/task/task-id.ts'

const { values } = parseArgs({
  options: { base: { type: 'string' }, decodes: { type: 'string', default: '20000' } },
})
const decodes = Number(values.decodes)

const seed = (n: number) => generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(n))
const [ownerKey, executorKey] = await Promise.all([seed(1), seed(2)])
const owner = peerIdFromPrivateKey(ownerKey).toString()
const executor = peerIdFromPrivateKey(executorKey).toString()

const tasks = [0, 1, 2, 3, 4, 5].map((n) => {
  const spec = parseTaskSpec({ type: 'sleep', input: { ms: 20 + n } })
  const nonce = `nonce-${n}`
  return {
    id: taskId(spec, 'client', nonce),
    spec,
    submitter: 'client',
    nonce,
    owner,
    submittedAt: 1_764_900_000_000,
  }
})
const proofs = new GrantSigner(ownerKey).signAll(
  executor,
  tasks.map((t) => ({ taskId: t.id, epoch: 1 })),
)
const [record] = signResultBatch(
  [
    {
      v: 1,
      taskId: tasks[0].id,
      status: 'succeeded',
      output: null,
      executor,
      owner,
      epoch: 1,
      grant: proofs[0],
      attempts: [],
      submittedAt: 1_764_900_000_000,
      startedAt: 1_764_900_000_010,
      finishedAt: 1_764_900_000_030,
    },
  ],
  executorKey,
)

const frames: Record<string, [schema: string, value: unknown]> = {
  'grant of 6': [
    'stealReplySchema',
    {
      type: 'grant',
      requestId: crypto.randomUUID(),
      tasks,
      leases: tasks.map((t, i) => ({
        taskId: t.id,
        epoch: 1,
        expiresAt: 1_764_900_030_000,
        proof: proofs[i],
      })),
      ttlMs: 30_000,
    },
  ],
  complete: [
    'stealFrameSchema',
    {
      type: 'complete',
      requestId: crypto.randomUUID(),
      completions: [
        {
          taskId: tasks[0].id,
          epoch: 1,
          status: 'succeeded',
          record: Buffer.from(record).toString('base64'),
        },
      ],
    },
  ],
  completed: [
    'stealReplySchema',
    {
      type: 'completed',
      requestId: crypto.randomUUID(),
      outcomes: [{ taskId: tasks[0].id, outcome: 'accepted' }],
    },
  ],
  steal: [
    'stealFrameSchema',
    {
      type: 'steal',
      requestId: crypto.randomUUID(),
      max: 4,
      offer: { types: ['sleep'], labels: [], slots: 4, memoryMb: 1024 },
      ...{ queued: 0, queuedWorkMs: 0, speed: 1, freeSlots: 2 },
    },
  ],
  stored: [
    'replicateReplySchema',
    { type: 'stored', requestId: crypto.randomUUID(), outcomes: Array(4).fill('stored') },
  ],
}

type Decode = (schema: unknown, bytes: Uint8Array, maxBytes: number, what: string) => unknown

/** A build's decoder and schemas, from its `dist/`. */
async function load(root: string): Promise<{ decode: Decode; schemas: Record<string, unknown> }> {
  const dist = new URL(`file://${root.replace(/\/$/, '')}/dist/src/protocol/`)
  const codec = await import(new URL('codec.js', dist).href)
  const steal = await import(new URL('messages/steal-messages.js', dist).href)
  const replicate = await import(new URL('messages/replicate-messages.js', dist).href)
  return { decode: codec.decodeMessage, schemas: { ...steal, ...replicate } }
}

const builds: Array<[string, Awaited<ReturnType<typeof load>>]> = [['this build', await load(process.cwd())]]
if (values.base !== undefined) builds.push(['base', await load(values.base)])

console.log(`frame       bytes   ${builds.map(([name]) => `${name.padStart(12)}`).join('')}  (µs per decode)`)
for (const [name, [schemaName, value]] of Object.entries(frames)) {
  const bytes = new TextEncoder().encode(JSON.stringify(value))
  const best = builds.map(() => Number.POSITIVE_INFINITY)
  for (let round = 0; round < 3; round++) {
    builds.forEach(([, { decode, schemas }], b) => {
      const schema = schemas[schemaName]
      const t0 = performance.now()
      for (let i = 0; i < decodes; i++) decode(schema, bytes, 1 << 22, name)
      best[b] = Math.min(best[b], ((performance.now() - t0) * 1000) / decodes)
    })
  }
  console.log(
    `${name.padEnd(11)} ${String(bytes.byteLength).padStart(5)}   ${best.map((us) => us.toFixed(1).padStart(12)).join('')}`,
  )
}

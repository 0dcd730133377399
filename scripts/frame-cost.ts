/**
 * What one request and its reply cost through taskmesh's own stack — an `RpcSession` client and a
 * `serveSession` server over libp2p on 127.0.0.1 TCP with the node's connection stack (Noise with
 * libsodium, Yamux, the coalescing protector), one long-lived stream — with both ends in this
 * process, so the CPU printed is both sides': the frames every stolen task pays for (a steal and
 * its grant, a complete and its verdict, a store and its reply) beside the bytes they carry.
 * Sequential (one request in flight: each frame its own write and read, as at low load) and
 * pipelined (32 in flight: frames share the writes and reads, as under load).
 *
 *   npx tsx scripts/frame-cost.ts [--requests 5000]
 */
import '../src/polyfill.ts'
import { parseArgs } from 'node:util'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { connectionStack } from '../src/node/wire/connection-stack.ts'
import type { StealFrame, StealReply } from '../src/protocol/messages/messages.ts'
import { stealFrameSchema, stealReplySchema } from '../src/protocol/messages/messages.ts'
import { RpcSession, serveSession } from '../src/protocol/rpc/rpc-session.ts'
// the node's patches of the stack's hot paths, as libp2p-factory.ts loads them
import '../src/node/wire/length-prefix-decoder.ts'
import '../src/node/wire/yamux-window-updates.ts'

const { values } = parseArgs({ options: { requests: { type: 'string', default: '5000' } } })
const requests = Number(values.requests)
if (!Number.isInteger(requests) || requests < 100)
  throw new Error(`--requests: >= 100, got ${values.requests}`)

const PROTOCOL = '/taskmesh-bench/frame-cost/1.0.0'
const MAX_BYTES = 4 * 1024 * 1024

const start = (): Promise<Libp2p> =>
  createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    ...connectionStack(undefined),
  })

const [server, client] = await Promise.all([start(), start()])
await server.handle(PROTOCOL, (stream) => {
  void serveSession(
    stream,
    stealFrameSchema,
    async (req: StealFrame): Promise<StealReply> => {
      if (req.type === 'complete') {
        const outcomes = req.completions.map((c) => ({ taskId: c.taskId, outcome: 'accepted' as const }))
        return { type: 'completed', requestId: req.requestId, outcomes }
      }
      return { type: 'renewed', requestId: req.requestId, accepted: [], rejected: [] }
    },
    { maxBytes: MAX_BYTES, what: 'bench frame' },
  )
})
const session = new RpcSession<StealReply>({
  open: (signal) => client.dialProtocol(server.getMultiaddrs()[0], PROTOCOL, { signal }),
  replySchema: stealReplySchema,
  maxBytes: MAX_BYTES,
  what: 'bench reply',
})

const TASK_ID = 'bafkreigtcw34cc552kezif33cut7xtybygeafv5wkv5yzhzxrp2yk4slfy'
/** A complete of one task carrying a record of about a real one's size (1.2 KB of base64). */
const record = Buffer.alloc(900, 7).toString('base64')
const frames: Record<string, () => StealFrame> = {
  'renew, empty': () => ({ type: 'renew', requestId: crypto.randomUUID(), leases: [] }),
  'complete, 1 record': () => ({
    type: 'complete',
    requestId: crypto.randomUUID(),
    completions: [{ taskId: TASK_ID, epoch: 1, status: 'succeeded', record }],
  }),
}

/** CPU (both ends) and wall time per request, `inFlight` requests at a time. */
async function measure(make: () => StealFrame, inFlight: number): Promise<{ cpuUs: number; wallUs: number }> {
  let next = 0
  const worker = async () => {
    while (next < requests) {
      next++
      await session.request(make())
    }
  }
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(Array.from({ length: inFlight }, worker))
  const cpu = process.cpuUsage(cpu0)
  return { cpuUs: (cpu.user + cpu.system) / requests, wallUs: ((performance.now() - t0) * 1000) / requests }
}

console.log('frame                 bytes   in flight   CPU µs per request + reply (both ends)   wall µs')
for (const [name, make] of Object.entries(frames)) {
  const bytes = Buffer.byteLength(JSON.stringify(make()))
  for (const inFlight of [1, 32]) {
    await measure(make, inFlight) // warm-up: the paths compiled, the stream open
    const { cpuUs, wallUs } = await measure(make, inFlight)
    console.log(
      `${name.padEnd(20)} ${String(bytes).padStart(6)}   ${String(inFlight).padStart(9)}   ${cpuUs.toFixed(1).padStart(40)}   ${wallUs.toFixed(1).padStart(7)}`,
    )
  }
}
session.close()
await Promise.all([client.stop(), server.stop()])

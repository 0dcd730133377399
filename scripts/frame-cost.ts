/**
 * What one request and its reply cost through taskmesh's own stack — an `RpcSession` client and a
 * `serveSession` server over libp2p on 127.0.0.1 TCP with the node's connection stack (Noise with
 * libsodium, Yamux, the coalescing protector), one long-lived stream — with both ends in this
 * process, so the CPU printed is both sides': the frames every stolen task pays for (a steal and
 * its grant, a complete and its verdict, a store and its reply) beside the bytes they carry.
 * Sequential (one request in flight: each frame its own write and read, as at low load) and
 * pipelined (32 in flight: frames share the writes and reads, as under load).
 *
 * With `--base <checkout>`, that checkout's `RpcSession` and `serveSession` run too, on a second
 * protocol of the same two nodes, alternating with this build's `--rounds` times (medians printed,
 * and their ratio); the stack's patches are this build's for both.
 *
 *   npx tsx scripts/frame-cost.ts [--requests 5000] [--base <checkout> [--rounds 3]]
 */
import '../src/polyfill.ts'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { connectionStack } from '../src/node/wire/connection-stack.ts'
import type { StealFrame, StealReply } from '../src/protocol/messages/messages.ts'
import { stealFrameSchema, stealReplySchema } from '../src/protocol/messages/messages.ts'
import * as thisRpc from '../src/protocol/rpc/rpc-session.ts'
// the node's patches of the stack's hot paths, as libp2p-factory.ts loads them
import '../src/node/wire/length-prefix-decoder.ts'
import '../src/node/wire/yamux-window-updates.ts'

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '5000' },
    base: { type: 'string' },
    rounds: { type: 'string', default: '3' },
  },
})
const requests = Number(values.requests)
if (!Number.isInteger(requests) || requests < 100)
  throw new Error(`--requests: >= 100, got ${values.requests}`)
const rounds = values.base === undefined ? 1 : Number(values.rounds)
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: >= 1, got ${values.rounds}`)

const PROTOCOL = '/taskmesh-bench/frame-cost/1.0.0'
const MAX_BYTES = 4 * 1024 * 1024

const start = (): Promise<Libp2p> =>
  createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    ...connectionStack(undefined),
  })

const [server, client] = await Promise.all([start(), start()])
type Rpc = typeof thisRpc
const builds: Array<{ name: string; rpc: Rpc }> = [{ name: 'this', rpc: thisRpc }]
if (values.base !== undefined) {
  builds.push({ name: 'base', rpc: await import(resolve(values.base, 'src/protocol/rpc/rpc-session.ts')) })
}

/** Serves the bench protocol with a build's `serveSession` and opens that build's session to it. */
async function sessionOf({ name, rpc }: (typeof builds)[number]): Promise<thisRpc.RpcSession<StealReply>> {
  const protocol = `${PROTOCOL}/${name}`
  await server.handle(protocol, (stream) => {
    void rpc.serveSession(
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
  return new rpc.RpcSession<StealReply>({
    open: (signal) => client.dialProtocol(server.getMultiaddrs()[0], protocol, { signal }),
    replySchema: stealReplySchema,
    maxBytes: MAX_BYTES,
    what: 'bench reply',
  })
}
const sessions = await Promise.all(builds.map(sessionOf))

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
async function measure(
  session: thisRpc.RpcSession<StealReply>,
  make: () => StealFrame,
  inFlight: number,
): Promise<{ cpuUs: number; wallUs: number }> {
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]
const head =
  builds.length === 1
    ? 'CPU µs per request + reply (both ends)   wall µs'
    : 'CPU µs per request + reply (both ends): this / base (ratio)'
console.log(`frame                 bytes   in flight   ${head}`)
for (const [name, make] of Object.entries(frames)) {
  const bytes = Buffer.byteLength(JSON.stringify(make()))
  for (const inFlight of [1, 32]) {
    const cpu = builds.map((): number[] => [])
    const wall = builds.map((): number[] => [])
    for (let round = 0; round < rounds; round++) {
      for (const [i, session] of sessions.entries()) {
        await measure(session, make, inFlight) // warm-up: the paths compiled, the stream open
        const { cpuUs, wallUs } = await measure(session, make, inFlight)
        cpu[i].push(cpuUs)
        wall[i].push(wallUs)
      }
    }
    const label = `${name.padEnd(20)} ${String(bytes).padStart(6)}   ${String(inFlight).padStart(9)}   `
    if (builds.length === 1) {
      console.log(
        `${label}${median(cpu[0]).toFixed(1).padStart(40)}   ${median(wall[0]).toFixed(1).padStart(7)}`,
      )
    } else {
      const [a, b] = [median(cpu[0]), median(cpu[1])]
      console.log(`${label}${a.toFixed(1)} / ${b.toFixed(1)} (${(a / b).toFixed(2)}×)`)
    }
  }
}
for (const session of sessions) session.close()
await Promise.all([client.stop(), server.stop()])

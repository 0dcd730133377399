import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import {
  MAX_FRAME_BYTES,
  REPLICATE_PROTOCOL,
  STEAL_PROTOCOL,
  SUBMIT_PROTOCOL,
} from '../../src/protocol/constants.ts'
import { type RawPeer, sleepSpec, startRawPeer, stopAll, varint, waitFor } from './helpers.ts'

const MiB = 1024 * 1024
const VICTIM = fileURLToPath(new URL('./flood-victim.ts', import.meta.url))
const REPO = fileURLToPath(new URL('../..', import.meta.url))

/** The victim's budget for unfinished inbound requests (the default is 64 MiB; smaller keeps the test light). */
const BUDGET = 16 * MiB
/** Attacking peers; each opens streams of every kind on each protocol, within libp2p's per-connection limits. */
const ATTACKERS = 2
/** Per attacker: streams of each kind per protocol (under the inbound limits of 64, 256 and 16 per connection). */
const FLOOD: Record<string, { junk: number; oversized: number; slowloris: number; heavy: number }> = {
  [STEAL_PROTOCOL]: { junk: 8, oversized: 8, slowloris: 32, heavy: 10 },
  [SUBMIT_PROTOCOL]: { junk: 8, oversized: 8, slowloris: 32, heavy: 10 },
  [REPLICATE_PROTOCOL]: { junk: 2, oversized: 2, slowloris: 6, heavy: 4 },
}
/** What each heavy stream pushes: most of a maximum-size frame, never finished. */
const HEAVY_BYTES = 2 * MiB
/** Heavy streams in all. */
const HEAVIES = ATTACKERS * Object.values(FLOOD).reduce((n, f) => n + f.heavy, 0)
/** Bytes the heavy streams push in all: six times the budget. */
const PUSHED = HEAVIES * HEAVY_BYTES
/**
 * How much the victim's retained memory (heap + buffers after a full GC) may grow while the flood
 * holds its streams open: twice the budget — the bytes it lets unfinished requests hold, which can
 * pin more than themselves (each received chunk is a view into a larger decrypted transport
 * buffer) — plus 16 MiB for the rest: 2 × 130 streams of Yamux, multistream and framing state with a
 * deadline timer each, the honest steals' tasks and records, GC noise. Measured on the development
 * machine: 26 MiB with the budget; 146 MiB with a budget too large to bite (the heavy streams alone
 * push PUSHED = 96 MiB).
 */
const GROWTH_BOUND = 2 * BUDGET + 16 * MiB

/** Queues `bytes` on the stream in 64 KiB chunks (Yamux sends them as the victim's window allows); stops once the victim resets it. */
async function push(stream: Stream, bytes: number): Promise<void> {
  const chunk = new Uint8Array(64 * 1024).fill(0x20)
  try {
    for (let sent = 0; sent < bytes && stream.status === 'open'; sent += chunk.byteLength) {
      if (!stream.send(chunk)) await stream.onDrain({ signal: AbortSignal.timeout(20_000) })
    }
  } catch {
    // reset by the victim
  }
}

/** How a stream the victim should refuse ends: `cut off` (reset or closed without a reply), else what came. */
function outcome(stream: Stream): Promise<string> {
  return lpStream(stream)
    .read({ signal: AbortSignal.timeout(20_000) })
    .then(
      () => 'replied',
      (err: Error) => (err.name === 'AbortError' || err.name === 'TimeoutError' ? 'left open' : 'cut off'),
    )
}

/** The victim's `status().inbound`. */
type Inbound = { bytes: number; streams: number; evictions: number }

/** A victim node in its own process, driven over IPC. */
class Victim {
  private readonly child: ChildProcess
  private readonly inbox: Array<Record<string, unknown>> = []
  private readonly waiting = new Set<() => void>()
  exited = false

  constructor(options: object) {
    this.child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', VICTIM], {
      cwd: REPO,
      env: { ...process.env, TASKMESH_VICTIM_OPTIONS: JSON.stringify(options) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.child.on('message', (msg) => {
      this.inbox.push(msg as Record<string, unknown>)
      for (const w of this.waiting) w()
    })
    this.child.on('exit', () => {
      this.exited = true
      for (const w of this.waiting) w()
    })
  }

  /** The next message of `type` (rejects if the victim exits first or reports an error). */
  next(type: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(check)
        reject(new Error(`the victim sent no "${type}" within ${timeoutMs} ms`))
      }, timeoutMs)
      const check = () => {
        const i = this.inbox.findIndex((m) => m.type === type || m.type === 'error')
        if (i < 0 && !this.exited) return
        clearTimeout(timer)
        this.waiting.delete(check)
        if (i < 0) return reject(new Error(`the victim exited while the test waited for "${type}"`))
        const [msg] = this.inbox.splice(i, 1)
        if (msg.type === 'error') reject(new Error(`the victim failed: ${String(msg.message)}`))
        else resolve(msg)
      }
      this.waiting.add(check)
      check()
    })
  }

  async ask(msg: object, reply: string): Promise<Record<string, unknown>> {
    const answer = this.next(reply)
    this.child.send(msg)
    return answer
  }

  /** Retained memory (heap + buffers after a full GC), bytes. */
  async memory(): Promise<number> {
    return (await this.ask({ type: 'memory' }, 'memory')).bytes as number
  }

  /** Submits `count` tasks only a gpu node can run, and resolves with their executors once all ran. */
  async gpuTasksRunBy(count: number): Promise<string[]> {
    const specs = Array.from({ length: count }, (_, i) => sleepSpec(5, i, { resources: { labels: ['gpu'] } }))
    const { ids } = await this.ask({ type: 'submit', specs }, 'submitted')
    return (await this.ask({ type: 'results', ids }, 'results')).executors as string[]
  }

  /** Polls the victim's `status().inbound` until `done` holds (rejects with `message` after 20 s). */
  async inboundWhen(done: (i: Inbound) => boolean, message: string): Promise<Inbound> {
    const deadline = Date.now() + 20_000
    for (;;) {
      const inbound = (await this.ask({ type: 'inbound' }, 'inbound')) as unknown as Inbound
      if (done(inbound)) return inbound
      if (Date.now() > deadline) throw new Error(`${message}: ${JSON.stringify(inbound)}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  async stop(): Promise<void> {
    if (this.exited) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.send({ type: 'stop' })
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
}

describe('hostile stream flood', () => {
  let victim: Victim
  let address: string
  let thief: TaskmeshNode | undefined
  let attackers: RawPeer[] = []

  beforeAll(async () => {
    // the victim owns work only the thief (label gpu) can run, so every task of it must be stolen;
    // its request deadline is long so the flood's streams stay open while memory is measured
    victim = new Victim({ slots: 1, maxInboundRequestBytes: BUDGET, requestTimeoutMs: 120_000 })
    const ready = await victim.next('ready', 60_000)
    address = (ready.multiaddrs as string[])[0]
    thief = await TaskmeshNode.create({ slots: 2, labels: ['gpu'], bootstrap: [address] })
    await thief.waitForPeers(1)
  }, 90_000)

  afterAll(async () => {
    await stopAll([...attackers, thief])
    await victim?.stop()
  })

  it('junk, oversized prefixes, slowloris and heavy unfinished frames on the steal, submit and replicate protocols: memory stays bounded, the node survives, honest steals are served during and after', async () => {
    const t = thief!
    expect(await victim.gpuTasksRunBy(2)).toEqual([t.peerId, t.peerId]) // the mesh works before
    const before = await victim.memory()

    attackers = await Promise.all(Array.from({ length: ATTACKERS }, () => startRawPeer()))
    const addr = multiaddr(address)
    const cutOff: Array<Promise<string>> = [] // streams the victim must reset at once
    const held: Stream[] = [] // streams it may hold until its deadline
    const heavies: Array<Promise<void>> = []
    for (const a of attackers) {
      await a.dial(addr, { signal: AbortSignal.timeout(10_000) })
      for (const [protocol, flood] of Object.entries(FLOOD)) {
        const open = () => a.dialProtocol(addr, protocol, { signal: AbortSignal.timeout(10_000) })
        for (let i = 0; i < flood.junk; i++) {
          const s = await open()
          s.send(Uint8Array.from([...varint(40), ...crypto.getRandomValues(new Uint8Array(40))]))
          cutOff.push(outcome(s))
        }
        for (let i = 0; i < flood.oversized; i++) {
          const s = await open()
          s.send(Uint8Array.from([...varint(MAX_FRAME_BYTES + 1 + i), 0x7b]))
          cutOff.push(outcome(s))
        }
        for (let i = 0; i < flood.slowloris; i++) {
          const s = await open()
          s.send(Uint8Array.from([...varint(MiB), ...new Uint8Array(64).fill(0x20)]))
          held.push(s)
        }
        for (let i = 0; i < flood.heavy; i++) {
          const s = await open()
          s.send(Uint8Array.from(varint(MAX_FRAME_BYTES - 1)))
          held.push(s)
          heavies.push(push(s, HEAVY_BYTES))
        }
      }
    }
    // junk and oversized prefixes are cut off without a reply
    expect(new Set(await Promise.all(cutOff))).toEqual(new Set(['cut off']))
    // wait until every heavy stream's bytes reached the victim: each is then held whole or was
    // aborted by the budget (the streams holding the most go first)
    await Promise.all(heavies)
    const inbound = await victim.inboundWhen(
      (i) => i.evictions + Math.floor(i.bytes / HEAVY_BYTES) >= HEAVIES,
      'the heavy streams never all arrived',
    )
    expect(inbound.evictions).toBeGreaterThanOrEqual(HEAVIES - BUDGET / HEAVY_BYTES)
    expect(inbound.bytes).toBeLessThanOrEqual(BUDGET)

    // during the flood (slowloris and surviving heavy streams still open): honest steals are served
    expect(await victim.gpuTasksRunBy(4)).toEqual([t.peerId, t.peerId, t.peerId, t.peerId])
    const during = await victim.memory()
    expect(held.filter((s) => s.status === 'open').length).toBeGreaterThan(0)
    const growth = during - before
    expect(
      growth,
      `retained memory grew by ${(growth / MiB).toFixed(1)} MiB (bound ${GROWTH_BOUND / MiB} MiB; ${PUSHED / MiB} MiB pushed)`,
    ).toBeLessThan(GROWTH_BOUND)

    // after: the attackers leave; the node is alive and still serves steals
    await stopAll(attackers)
    attackers = []
    await waitFor(() => held.every((s) => s.status !== 'open'), 10_000, 'flood streams stayed open')
    expect(await victim.gpuTasksRunBy(2)).toEqual([t.peerId, t.peerId])
    expect(victim.exited).toBe(false)
  })
})

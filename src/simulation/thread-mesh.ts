import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { Worker } from 'node:worker_threads'
import { workerExecArgv } from '../executor/exec-argv.ts'
import type { AccountingSnapshot } from '../node/accounting/accounting.ts'
import type { NodeCounters } from '../node/node-counters.ts'
import type { TaskSpecInput } from '../task/spec.ts'
import type { LoopStats } from './loop-meter.ts'
import type { NodeSample, SimNode, SimNodeOptions, SimResult } from './sim-node.ts'
import type { NodeCommand, NodeEvent, NodeThreadData, ThreadNodeInfo } from './thread-protocol.ts'

/** The node thread's entry, beside this file (`.ts` from source, `.js` once built). */
const NODE_THREAD_FILE = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? 'node-thread.ts' : 'node-thread.js', import.meta.url),
)

/** Longest a node thread may take to start its node, ms. */
const START_TIMEOUT_MS = 60_000

/**
 * Young generation each node thread's heap starts with, MiB per semi-space. A node allocates
 * quickly (frames, records, promises per task); V8 starts a worker's semi-space at 1–2 MiB and
 * grows it only after many scavenges, which copy the tasks in flight and promote them to the old
 * generation, collected at far greater cost. With 16 the 8 × 4 skewed run took 5 % less CPU and
 * 1.24–1.29 × ideal against 1.32–1.36 (3 alternating pairs; see the README).
 */
export const NODE_THREAD_SEMI_SPACE_MIB = 16

let semiSpaceSet = false

/**
 * Sets V8's starting semi-space for isolates made from now on (a worker's `execArgv` may not carry
 * the flag; it is process-wide, read when an isolate is made). Left alone when this process was
 * started with a semi-space flag of its own (on its command line or in `NODE_OPTIONS`).
 */
function sizeThreadHeaps(): void {
  if (semiSpaceSet) return
  semiSpaceSet = true
  const own = [...process.execArgv, process.env.NODE_OPTIONS ?? '']
  if (own.some((a) => a.includes('semi-space-size'))) return
  setFlagsFromString(`--min-semi-space-size=${NODE_THREAD_SEMI_SPACE_MIB}`)
}

/** Spreads the distribution of `Omit` over each member of a union (TypeScript's own does not). */
type CommandBody = NodeCommand extends infer C
  ? C extends NodeCommand
    ? Omit<C, 'call' | 'node'>
    : never
  : never

/**
 * A worker thread hosting simulated nodes on its own event loop and heap, as on a machine of its
 * own (the threads share the machine's cores). Commands go by message, results come back in
 * batches; the thread ends once each of its nodes has stopped.
 */
class NodeThread {
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private nextCall = 1
  /** Each node's result callback, by its index in the thread. */
  readonly onResult: Array<((r: SimResult) => void) | undefined> = []
  private running: number

  constructor(
    private readonly worker: Worker,
    nodes: number,
  ) {
    this.running = nodes
    worker.on('message', (event: NodeEvent) => this.onEvent(event))
    worker.on('error', (err) => this.failAll(err))
    worker.on('exit', () => this.failAll(new Error(`a node thread exited (${threadLabel(worker)})`)))
  }

  call(node: number, body: CommandBody): Promise<unknown> {
    const call = this.nextCall++
    return new Promise((resolve, reject) => {
      this.calls.set(call, { resolve, reject })
      this.worker.postMessage({ ...body, call, node } as NodeCommand)
    })
  }

  /** Stops one node; the thread ends with its last. */
  async stop(node: number): Promise<void> {
    try {
      await this.call(node, { op: 'stop' })
    } finally {
      if (--this.running === 0) await this.worker.terminate()
    }
  }

  private onEvent(event: NodeEvent): void {
    if (event.type === 'results') {
      const onResult = this.onResult[event.node]
      for (const r of event.results) onResult?.(r)
    } else if (event.type === 'reply' || event.type === 'failed') {
      const pending = this.calls.get(event.call)
      if (pending === undefined) return
      this.calls.delete(event.call)
      if (event.type === 'reply') pending.resolve(event.value)
      else pending.reject(new Error(event.message))
    }
  }

  private failAll(err: Error): void {
    for (const pending of this.calls.values()) pending.reject(err)
    this.calls.clear()
  }
}

const threadLabel = (worker: Worker) => `thread ${worker.threadId}`

/**
 * Starts one worker thread hosting a node for each of `options` on its event loop; resolves with
 * them, in order, once every one listens.
 */
export function startNodeThread(options: SimNodeOptions[]): Promise<ThreadSimNode[]> {
  sizeThreadHeaps()
  const workerData: NodeThreadData = { options }
  const worker = new Worker(NODE_THREAD_FILE, {
    workerData,
    execArgv: workerExecArgv(NODE_THREAD_FILE, []),
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate()
      reject(new Error(`a node thread did not start within ${START_TIMEOUT_MS} ms`))
    }, START_TIMEOUT_MS)
    const onMessage = (event: NodeEvent) => {
      if (event.type !== 'ready' && event.type !== 'fatal') return
      clearTimeout(timer)
      worker.off('message', onMessage)
      worker.off('error', onError)
      if (event.type === 'fatal') {
        void worker.terminate()
        reject(new Error(`a node thread failed to start: ${event.message}`))
      } else {
        const thread = new NodeThread(worker, event.nodes.length)
        resolve(event.nodes.map((info, i) => new ThreadSimNode(thread, i, info)))
      }
    }
    const onError = (err: Error) => {
      clearTimeout(timer)
      reject(err)
    }
    worker.on('message', onMessage)
    worker.once('error', onError)
  })
}

/** A simulated node hosted by a worker thread (alone, or beside others on the thread's loop). */
export class ThreadSimNode implements SimNode {
  readonly peerId: string
  readonly multiaddrs: string[]
  readonly slots: number

  constructor(
    private readonly thread: NodeThread,
    private readonly index: number,
    info: ThreadNodeInfo,
  ) {
    this.peerId = info.peerId
    this.multiaddrs = info.multiaddrs
    this.slots = info.slots
  }

  async dial(addrs: string[]): Promise<void> {
    await this.call({ op: 'dial', addrs })
  }

  async waitForPeers(count: number, timeoutMs: number): Promise<void> {
    await this.call({ op: 'waitForPeers', count, timeoutMs })
  }

  async submit(specs: TaskSpecInput[], onResult: (result: SimResult) => void): Promise<string[]> {
    this.thread.onResult[this.index] = onResult
    return (await this.call({ op: 'submit', specs })) as string[]
  }

  async counters(): Promise<NodeCounters> {
    return (await this.call({ op: 'counters' })) as NodeCounters
  }

  async sample(): Promise<NodeSample> {
    return (await this.call({ op: 'sample' })) as NodeSample
  }

  async accounting(): Promise<AccountingSnapshot> {
    return (await this.call({ op: 'accounting' })) as AccountingSnapshot
  }

  async flushResults(): Promise<void> {
    await this.call({ op: 'flushResults' })
  }

  async countInDht(ids: string[]): Promise<number> {
    return (await this.call({ op: 'countInDht', ids })) as number
  }

  async startLoopMeter(): Promise<void> {
    await this.call({ op: 'startLoopMeter' })
  }

  async loopStats(): Promise<LoopStats> {
    return (await this.call({ op: 'loopStats' })) as LoopStats
  }

  stop(): Promise<void> {
    return this.thread.stop(this.index)
  }

  private async call(body: CommandBody): Promise<unknown> {
    try {
      return await this.thread.call(this.index, body)
    } catch (err) {
      throw new Error(`node ${this.peerId}: ${(err as Error).message}`)
    }
  }
}

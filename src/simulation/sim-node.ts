import type { AccountingSnapshot } from '../node/accounting/accounting.ts'
import type { NodeCounters } from '../node/node-counters.ts'
import type { TaskmeshNodeOptions } from '../node/options.ts'
import type { TaskmeshNode } from '../node/taskmesh-node.ts'
import type { TaskSpecInput } from '../task/spec.ts'
import { eachLimited } from '../util/each-limited.ts'
import { LoopMeter, type LoopStats } from './loop-meter.ts'
import { dialWithRetry } from './mesh.ts'

/**
 * Epoch ms with the monotonic clock's resolution, the same in every thread of the process (each
 * thread's `timeOrigin` is its own start on one shared epoch).
 */
export function epochNow(): number {
  return performance.timeOrigin + performance.now()
}

/** What a simulation learns of one result. */
export interface SimResult {
  taskId: string
  status: 'succeeded' | 'failed'
  /** Peer id of the node that ran it. */
  executor: string
  /** From the submit call to the result at the submitting node, ms. */
  latencyMs: number
  /**
   * When the result landed at the submitting node ({@link epochNow}): the workload's end is the
   * last landing, not its arrival at the simulation's thread (results are posted in batches).
   */
  landedAt: number
  /** When the run that produced the result started and finished, on the executor's clock (epoch ms). */
  startedAt: number
  finishedAt: number
}

/** What a node is doing now: its queue and slots, and how many tasks it stole so far. */
export interface NodeSample {
  queued: number
  running: number
  tasksStolen: number
}

/** Settings of one simulated node (everything a node thread needs to build it). */
export type SimNodeOptions = Pick<
  TaskmeshNodeOptions,
  'slots' | 'speed' | 'transport' | 'beaconIntervalMs' | 'leaseTtlMs' | 'labels' | 'queuePolicy'
>

/**
 * One node of a simulated mesh, wherever it runs: in the simulation's own event loop, or in a
 * thread of its own (its own event loop, as on a machine of its own).
 */
export interface SimNode {
  readonly peerId: string
  readonly multiaddrs: string[]
  readonly slots: number
  /** Dials the given peers (multiaddrs with /p2p/). */
  dial(addrs: string[]): Promise<void>
  /** Resolves once the node hears `count` peers' capacity beacons. */
  waitForPeers(count: number, timeoutMs: number): Promise<void>
  /**
   * Submits tasks here and resolves with their ids at once; `onResult` is called as each result
   * lands here (latency measured on the node's own clock).
   */
  submit(specs: TaskSpecInput[], onResult: (result: SimResult) => void): Promise<string[]>
  counters(): Promise<NodeCounters>
  /** Its queue depth, running tasks and steals now (cheap: meant to be called often). */
  sample(): Promise<NodeSample>
  /** What the node's work cost it so far: messages, bytes, signatures (`status().accounting`). */
  accounting(): Promise<AccountingSnapshot>
  /** Resolves once every record this node produced is in the DHT. */
  flushResults(): Promise<void>
  /** How many of `ids` a DHT get (past the cache) finds at this node. */
  countInDht(ids: string[]): Promise<number>
  /** Starts measuring the event loop this node runs on (see `LoopMeter`). */
  startLoopMeter(): Promise<void>
  /** How that loop fared since the start (the same for every node of the loop). */
  loopStats(): Promise<LoopStats>
  stop(): Promise<void>
}

/**
 * DHT gets in flight at once while counting. Few: each is a lookup of ~20 queries, and with 32 in
 * flight on the one loop of 100 nodes some took 15–25 s, long enough for kad-dht's adaptive
 * timeouts to give up on the very peers that held the record.
 */
const DHT_COUNT_CONCURRENCY = 8

/**
 * Counts how many of `ids` a DHT get (skipping the local cache) finds at `node`. A get that finds
 * nothing is made once more, after the others, as a waiter's next poll would.
 */
export async function countInDht(node: TaskmeshNode, ids: string[]): Promise<number> {
  const missed: string[] = []
  await eachLimited(ids, DHT_COUNT_CONCURRENCY, async (id) => {
    const found = await node.getResult(id, { skipCache: true, dhtOnly: true }).catch(() => undefined)
    if (found === undefined) missed.push(id)
  })
  let found = ids.length - missed.length
  await eachLimited(missed, DHT_COUNT_CONCURRENCY, async (id) => {
    if ((await node.getResult(id, { skipCache: true, dhtOnly: true }).catch(() => undefined)) !== undefined)
      found++
  })
  return found
}

/**
 * Submits at a node and reports each result as it lands there; shared by both layouts.
 * @returns the ids, in submission order.
 */
export async function submitAt(
  node: TaskmeshNode,
  specs: TaskSpecInput[],
  onResult: (result: SimResult) => void,
): Promise<string[]> {
  const submittedAt = performance.now()
  const handles = await node.submitMany(specs)
  for (const h of handles) {
    h.result().then(
      (r) =>
        onResult({
          taskId: h.id,
          status: r.status,
          executor: r.executor,
          latencyMs: performance.now() - submittedAt,
          landedAt: epochNow(),
          startedAt: r.startedAt,
          finishedAt: r.finishedAt,
        }),
      () => undefined,
    )
  }
  return handles.map((h) => h.id)
}

/** A node's queue depth, running tasks and steals now. */
export function sampleNode(node: TaskmeshNode): NodeSample {
  const { queued, running, counters } = node.status()
  return { queued, running, tasksStolen: counters.tasksStolen }
}

/** The event loop of this thread, shared by every node that runs on it. */
const threadLoop = new LoopMeter()

/** A node that runs in the simulation's own event loop. */
export class LocalSimNode implements SimNode {
  constructor(readonly node: TaskmeshNode) {}

  get peerId(): string {
    return this.node.peerId
  }

  get multiaddrs(): string[] {
    return this.node.multiaddrs
  }

  get slots(): number {
    return this.node.status().slots
  }

  async dial(addrs: string[]): Promise<void> {
    await Promise.all(addrs.map((a) => dialWithRetry(this.node, a)))
  }

  waitForPeers(count: number, timeoutMs: number): Promise<void> {
    return this.node.waitForPeers(count, AbortSignal.timeout(timeoutMs))
  }

  submit(specs: TaskSpecInput[], onResult: (result: SimResult) => void): Promise<string[]> {
    return submitAt(this.node, specs, onResult)
  }

  async counters(): Promise<NodeCounters> {
    return this.node.status().counters
  }

  async sample(): Promise<NodeSample> {
    return sampleNode(this.node)
  }

  async accounting(): Promise<AccountingSnapshot> {
    return this.node.status().accounting
  }

  flushResults(): Promise<void> {
    return this.node.flushResults()
  }

  countInDht(ids: string[]): Promise<number> {
    return countInDht(this.node, ids)
  }

  async startLoopMeter(): Promise<void> {
    threadLoop.start()
  }

  async loopStats(): Promise<LoopStats> {
    return threadLoop.take()
  }

  stop(): Promise<void> {
    return this.node.stop()
  }
}

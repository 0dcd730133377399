import type { AccountingSnapshot } from '../node/accounting/accounting.ts'
import type { NodeCounters } from '../node/node-counters.ts'
import type { TaskSpecInput } from '../task/spec.ts'
import type { LoopStats } from './loop-meter.ts'
import type { NodeSample, SimNodeOptions, SimResult } from './sim-node.ts'

/** What a node thread is started with: the nodes it hosts, on its one event loop. */
export interface NodeThreadData {
  options: SimNodeOptions[]
}

/** A node as its thread reports it once it listens. */
export interface ThreadNodeInfo {
  peerId: string
  multiaddrs: string[]
  slots: number
}

/**
 * A command from the simulation to a node thread; `call` pairs it with its reply, `node` is the
 * index of the node it is for among the thread's.
 */
export type NodeCommand = { call: number; node: number } & (
  | { op: 'dial'; addrs: string[] }
  | { op: 'waitForPeers'; count: number; timeoutMs: number }
  | { op: 'submit'; specs: TaskSpecInput[] }
  | { op: 'counters' }
  | { op: 'sample' }
  | { op: 'accounting' }
  | { op: 'flushResults' }
  | { op: 'countInDht'; ids: string[] }
  | { op: 'startLoopMeter' }
  | { op: 'loopStats' }
  | { op: 'stop' }
)

/** What a node thread posts back. */
export type NodeEvent =
  | { type: 'ready'; nodes: ThreadNodeInfo[] }
  | {
      type: 'reply'
      call: number
      value?: string[] | NodeCounters | NodeSample | AccountingSnapshot | LoopStats | number
    }
  | { type: 'failed'; call: number; message: string }
  | { type: 'results'; node: number; results: SimResult[] }
  | { type: 'fatal'; message: string }

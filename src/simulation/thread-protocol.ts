import type { AccountingSnapshot } from '../node/accounting/accounting.ts'
import type { NodeCounters } from '../node/node-counters.ts'
import type { TaskSpecInput } from '../task/spec.ts'
import type { NodeSample, SimNodeOptions, SimResult } from './sim-node.ts'

/** What a node thread is started with. */
export interface NodeThreadData {
  options: SimNodeOptions
}

/** A command from the simulation to a node thread; `call` pairs it with its reply. */
export type NodeCommand =
  | { call: number; op: 'dial'; addrs: string[] }
  | { call: number; op: 'waitForPeers'; count: number; timeoutMs: number }
  | { call: number; op: 'submit'; specs: TaskSpecInput[] }
  | { call: number; op: 'counters' }
  | { call: number; op: 'sample' }
  | { call: number; op: 'accounting' }
  | { call: number; op: 'flushResults' }
  | { call: number; op: 'countInDht'; ids: string[] }
  | { call: number; op: 'stop' }

/** What a node thread posts back. */
export type NodeEvent =
  | { type: 'ready'; peerId: string; multiaddrs: string[]; slots: number }
  | {
      type: 'reply'
      call: number
      value?: string[] | NodeCounters | NodeSample | AccountingSnapshot | number
    }
  | { type: 'failed'; call: number; message: string }
  | { type: 'results'; results: SimResult[] }
  | { type: 'fatal'; message: string }

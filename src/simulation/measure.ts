import { performance } from 'node:perf_hooks'
import type { AccountingSnapshot } from '../node/accounting/accounting.ts'

/** What the mesh's work cost per task, from the nodes' own accounting (all nodes summed). */
export interface PerTaskCost {
  /** Stream writes of every protocol (steal, custody, replicate, beacon, gossipsub, kad-dht, …). */
  messages: number
  /** Bytes on the wire (below Noise and Yamux), sent. */
  bytes: number
  /** Ed25519 verifications: result batches, grants, gossip. */
  verifications: number
  /** Ed25519 signatures made: result batches, grants, gossip. */
  signatures: number
  /** Stream writes per protocol. */
  messagesByProtocol: Record<string, number>
  /** Bytes sent per protocol, as the streams carry them (above Noise and Yamux). */
  bytesByProtocol: Record<string, number>
}

/** The sums of one snapshot that {@link perTaskCost} divides. */
function totals(s: AccountingSnapshot): {
  messages: number
  bytes: number
  verifications: number
  signatures: number
} {
  const sig = s.signatures
  return {
    messages: Object.values(s.protocols).reduce((sum, c) => sum + c.sends, 0),
    bytes: s.connections.bytesOut,
    verifications: sig.recordBatchesVerified + sig.grantsVerified + sig.gossipVerified,
    signatures: sig.recordBatchesSigned + sig.grantBatchesSigned + sig.gossipSigned,
  }
}

/** What every node spent between two snapshots of each (same order), divided by `tasks`. */
export function perTaskCost(
  before: AccountingSnapshot[],
  after: AccountingSnapshot[],
  tasks: number,
): PerTaskCost {
  const cost: PerTaskCost = {
    messages: 0,
    bytes: 0,
    verifications: 0,
    signatures: 0,
    messagesByProtocol: {},
    bytesByProtocol: {},
  }
  const n = Math.max(1, tasks)
  after.forEach((a, i) => {
    const b = before[i]
    const [ta, tb] = [totals(a), totals(b)]
    cost.messages += (ta.messages - tb.messages) / n
    cost.bytes += (ta.bytes - tb.bytes) / n
    cost.verifications += (ta.verifications - tb.verifications) / n
    cost.signatures += (ta.signatures - tb.signatures) / n
    for (const [p, c] of Object.entries(a.protocols)) {
      const sent = c.sends - (b.protocols[p]?.sends ?? 0)
      cost.messagesByProtocol[p] = (cost.messagesByProtocol[p] ?? 0) + sent / n
      const bytes = c.bytesOut - (b.protocols[p]?.bytesOut ?? 0)
      cost.bytesByProtocol[p] = (cost.bytesByProtocol[p] ?? 0) + bytes / n
    }
  })
  return cost
}

/**
 * What one stretch of the run cost this process: CPU time (every thread: the shared loop's nodes,
 * worker threads, GC) and the main event loop's utilisation (its busy share of the wall time). With
 * every node in one event loop, a run whose loop is busy nearly all the time is bound by that loop,
 * not by the slots: its makespan cannot fall below its CPU time on one core.
 */
export interface RunCost {
  /** Process CPU time (user + system), ms. */
  cpuMs: number
  /** Busy share of the main event loop over the stretch, 0–1 (`performance.eventLoopUtilization`). */
  eventLoopUtilization: number
  /** Wall time of the stretch, ms. */
  wallMs: number
}

/** Starts measuring a stretch of the run; call the returned function at its end. */
export function measureRunCost(): () => RunCost {
  const cpu = process.cpuUsage()
  const elu = performance.eventLoopUtilization()
  const started = performance.now()
  return () => {
    const used = process.cpuUsage(cpu)
    return {
      cpuMs: (used.user + used.system) / 1000,
      eventLoopUtilization: performance.eventLoopUtilization(elu).utilization,
      wallMs: performance.now() - started,
    }
  }
}

/** Samples this process's resident memory while it runs, keeping the peak. */
export class RssMeter {
  private peak = process.memoryUsage.rss()
  private readonly timer: NodeJS.Timeout

  constructor(intervalMs = 250) {
    this.timer = setInterval(() => this.read(), intervalMs)
    this.timer.unref()
  }

  /** The highest resident set size seen so far, bytes. */
  get peakBytes(): number {
    this.read()
    return this.peak
  }

  stop(): void {
    clearInterval(this.timer)
  }

  private read(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss())
  }
}

/**
 * This process's CPU while nothing is submitted: CPU time over `ms` of wall time, as % of one core.
 * Every simulated node lives in this process (threads included), so divide by the nodes.
 */
export async function idleCpuPercent(ms: number): Promise<number> {
  const cpu = process.cpuUsage()
  const started = performance.now()
  await new Promise((resolve) => setTimeout(resolve, ms))
  const used = process.cpuUsage(cpu)
  return ((used.user + used.system) / 1000 / (performance.now() - started)) * 100
}

import type { SimNode, SimResult } from './sim-node.ts'

/** One task's run: which node, and when (ms since the workload started). */
export interface TraceRun {
  node: number
  startMs: number
  endMs: number
}

/** The mesh at one moment: each node's queue depth and running tasks, and steals so far. */
export interface TraceSample {
  /** ms since the workload started. */
  t: number
  queued: number[]
  running: number[]
  /** Tasks stolen so far, all nodes. */
  stolen: number
}

/** What a simulation recorded over time, for plots (see `report-html.ts`). */
export interface SimulationTrace {
  /** Peer ids, by node index. */
  nodes: string[]
  slots: number[]
  runs: TraceRun[]
  samples: TraceSample[]
}

/** How often the mesh is sampled while the workload runs, ms. */
export const TRACE_INTERVAL_MS = 200

/**
 * Records a simulation's trace: samples every node every `TRACE_INTERVAL_MS` (one sample at a
 * time: a slow round is not overlapped), and turns results into runs on the workload's clock.
 */
export class TraceRecorder {
  readonly trace: SimulationTrace
  private readonly index = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private sampling = false
  private startedAt = 0
  private startedAtEpoch = 0

  constructor(private readonly nodes: SimNode[]) {
    this.trace = {
      nodes: nodes.map((n) => n.peerId),
      slots: nodes.map((n) => n.slots),
      runs: [],
      samples: [],
    }
    for (const [i, n] of nodes.entries()) this.index.set(n.peerId, i)
  }

  /** Starts the clock (the workload starts now) and the sampling. */
  start(): void {
    this.startedAt = performance.now()
    this.startedAtEpoch = Date.now()
    void this.sample()
    this.timer = setInterval(() => void this.sample(), TRACE_INTERVAL_MS)
  }

  /** A result came in: its run goes on the timeline. */
  result(r: SimResult): void {
    const node = this.index.get(r.executor)
    if (node === undefined) return
    this.trace.runs.push({
      node,
      startMs: r.startedAt - this.startedAtEpoch,
      endMs: r.finishedAt - this.startedAtEpoch,
    })
  }

  /** Takes a last sample and stops. */
  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.sample(true)
  }

  private async sample(force = false): Promise<void> {
    if (this.sampling && !force) return
    this.sampling = true
    try {
      const t = performance.now() - this.startedAt
      const samples = await Promise.all(this.nodes.map((n) => n.sample()))
      this.trace.samples.push({
        t,
        queued: samples.map((s) => s.queued),
        running: samples.map((s) => s.running),
        stolen: samples.reduce((sum, s) => sum + s.tasksStolen, 0),
      })
    } catch {
      // a node stopping while sampled: the trace keeps what it has
    } finally {
      this.sampling = false
    }
  }
}

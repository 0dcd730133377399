import type { WorkerPool } from '../executor/worker-pool.ts'
import type { LoopStats } from './loop-meter.ts'
import type { PerTaskCost, RunCost } from './measure.ts'
import type { MeshProgress } from './mesh.ts'
import type { DurationDistribution } from './random.ts'
import type { SimLayout } from './sim-mesh.ts'
import type { SlotTime } from './slot-time.ts'
import type { ThreadCpu } from './thread-cpu.ts'
import type { SimulationTrace } from './trace.ts'

/** Where the workload enters the mesh. */
export type SubmitPattern = 'one-node' | 'round-robin'

/** A simulation scenario: the mesh and its workload. */
export interface SimulationConfig {
  name: string
  nodes: number
  /** Slots per node: one number for all, or one per node. */
  slots: number | number[]
  /** Speed factor per node (1 = nominal; `sleep` runs 1/speed as long). @defaultValue all 1 */
  speeds?: number[]
  tasks: number
  duration: DurationDistribution
  /** @defaultValue 'one-node' */
  submit?: SubmitPattern
  /** @defaultValue 'tcp' */
  transport?: 'tcp' | 'memory'
  /** Seed of the workload's random durations. @defaultValue 1 */
  seed?: number
  /** Verify results by a DHT get at a node other than the submitter. @defaultValue true */
  verifyDht?: boolean
  /**
   * Results read back from the DHT at most: an even spread over the tasks when there are more. A
   * get is a Kademlia lookup (about 20 `GET_VALUE` queries in a mesh of bounded degree): ~0.2 s
   * of CPU each with 100 nodes on one event loop. @defaultValue every result
   */
  dhtReads?: number
  /**
   * Where the nodes run: each in a thread of its own (its own event loop, as on separate machines;
   * TCP only), or all in this event loop. @defaultValue 'shared-loop' (on a 2-core machine, 8 node threads
   * contend for the cores: the skewed run's makespan was 3× the shared loop's)
   */
  layout?: SimLayout
  /**
   * Longest the run may take once submitted, ms; results still missing then are reported missing.
   * @defaultValue 120 s, or 50 × the ideal makespan if longer
   */
  deadlineMs?: number
  /** Connections each node plans (see `meshTopology`; a mesh of degree + 1 or fewer is complete). @defaultValue 8 */
  degree?: number
  /**
   * Short sleeps run through the formed mesh before anything is measured (see `warmUp`): the
   * workload's first 1,000 durations cut to 5 ms, repeated to this many. @defaultValue 0
   */
  warmUp?: number
  /** How long the formed mesh idles before the workload, to measure idle CPU, ms. @defaultValue 3000 */
  idleMs?: number
  /**
   * Peers each node copies its result records to (the nodes' `recordCopies`): 0 shows what the
   * copies cost a run. @defaultValue the nodes' default (DEFAULT_RECORD_COPIES)
   */
  recordCopies?: number
  /**
   * Peers each node hands the tasks it owns to (the nodes' `custodians`): 0 shows what custody
   * costs a run. @defaultValue the nodes' default (DEFAULT_CUSTODIANS)
   */
  custodians?: number
}

/** How far a simulation got, for a progress display. */
export type SimulationProgress =
  | MeshProgress
  | { phase: 'idle' | 'warm-up'; done: number; total: number }
  | { phase: 'submit' | 'run' | 'verify'; done: number; total: number }

/** Hooks of {@link runSimulation}. */
export interface SimulationHooks {
  /** A worker pool the shared-loop nodes share. */
  pool?: WorkerPool
  /** Told as nodes start, the mesh forms, tasks are submitted, results come in and are verified. */
  onProgress?: (event: SimulationProgress) => void
  /** Record a trace (runs per node, queue depths and steals over time) for plots. */
  trace?: boolean
}

/** A report with the trace it was asked to record. */
export type TracedReport = SimulationReport & { trace?: SimulationTrace }

/** Figures of one simulation run. */
export interface SimulationReport {
  name: string
  /** Where the nodes ran (see {@link SimulationConfig.layout}). */
  layout: SimLayout
  /** Short sleeps run through the mesh before the measured run (see {@link SimulationConfig.warmUp}). */
  warmUpTasks: number
  /** Peers each node copied its result records to (see {@link SimulationConfig.recordCopies}). */
  recordCopies: number
  /** Peers each node handed the tasks it owned to (see {@link SimulationConfig.custodians}). */
  custodians: number
  nodes: number
  totalSlots: number
  tasks: number
  succeeded: number
  failed: number
  missing: number
  /** Results read back from the DHT at another node (when verified). */
  dhtVerified: number | null
  /** Results looked up for {@link dhtVerified}: every task, or an even spread of them. */
  dhtChecked: number
  makespanMs: number
  /** Total work / Σ(slots × speed), or the longest task on the fastest node if longer. */
  idealMakespanMs: number
  makespanRatio: number
  /** Tasks per second the throughput model predicts (S = 1 / Σ r_i/s_i per slot, summed over slots) vs measured. */
  predictedTasksPerSec: number
  measuredTasksPerSec: number
  tasksPerNode: number[]
  /** Steals answered with at least one task. */
  steals: number
  /** Offers of an owner a peer took at least one task of (steal 1.1). */
  offers: number
  /** Tasks that moved to another node than their owner, by steal or offer. */
  tasksStolen: number
  submitToResultMs: { p50: number; p99: number; max: number }
  /** From the first dial until every node heard as many peers as it has planned neighbours, ms. */
  meshFormationMs: number
  /** Starting the nodes (before any dial), ms. */
  nodesStartMs: number
  /** CPU time this process spent forming the mesh (dials, handshakes, first beacons), ms. */
  meshFormationCpuMs: number
  /** Peak resident memory of this process (all nodes) over the run, divided by the nodes, MiB. */
  peakRssMiBPerNode: number
  /**
   * The same until the last result was in, before the DHT read-back (whose lookups dial peers
   * beyond the reader's neighbours), MiB.
   */
  workPeakRssMiBPerNode: number
  /** CPU of this process while the formed mesh idled, divided by the nodes, % of one core. */
  idleCpuPercentPerNode: number
  /** What the workload cost per task that completed, from the nodes' accounting (submit to the last record stored). */
  perTask: PerTaskCost
  /**
   * What the process spent from the first submission to the last result: CPU time and the main
   * event loop's utilisation. All shared-loop nodes run on one event loop (one core at most), so
   * `cpuMs` beside `idealMakespanMs` shows whether that loop, not the slots, bounds the makespan.
   */
  run: RunCost & {
    cpuMsPerTask: number
    /** The same CPU by thread kind: node loops, helper threads, the simulation's (Linux only). */
    threads?: ThreadCpu
  }
  /**
   * Each event loop that hosts nodes (a worker thread per core, or the shared loop), over the same
   * stretch: how busy it was and how late its timers fired — a sleep task holds its slot that much
   * longer than it sleeps.
   */
  loops: LoopStats[]
  /**
   * Where the slot time (slots × makespan) went: the work the tasks asked for, runs longer than
   * that (late timers on busy loops), and slots idle before, between and after their runs.
   */
  slotTime: SlotTime
}

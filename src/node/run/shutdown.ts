import type { Executor } from '../../executor/executor.ts'
import type { Lifecycle, NodeParts } from '../assemble.ts'
import { CRASHED } from '../owner/owner-ledger.ts'
import type { RecordReplicator } from '../results/record-replicator.ts'
import { closeConnections } from '../wire/close-connections.ts'
import type { MeshLibp2p } from '../wire/libp2p-factory.ts'
import type { SubmitService } from '../wire/submit-service.ts'

/** How a node stops. */
export interface StopOptions {
  /**
   * Drain first: take no submission, steal or new run, and wait up to this long (ms) for the runs
   * under way to finish and be published; whatever still runs then is handed back to its owner (or,
   * owned here, journalled as interrupted). @defaultValue 0 (hand back at once)
   */
  drainTimeoutMs?: number
  /** Ends the drain early, as if its time were up (e.g. a second SIGTERM). */
  signal?: AbortSignal
  /**
   * The process met an error nobody caught (an inline handler's stray timer, say): any run under
   * way may be its cause, so each is handed back as an executor lost (`cut: 'lost'`), not as
   * interrupted — counted at its owner, a task that crashes every node running it is ended as
   * poison after `maxExecutorLosses`, as one whose executors are killed is. @defaultValue false
   */
  crashed?: boolean
}

/** Longest a stopping node waits for its last results to reach the DHT. */
const STOP_FLUSH_MS = 5_000

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

/** What {@link Shutdown} stops. */
export interface ShutdownParts {
  parts: NodeParts
  lifecycle: Lifecycle
  /** The node's timers (cleared first). */
  timers: NodeJS.Timeout[]
  /** This node's peer id. */
  self: string
  libp2p: MeshLibp2p
  executor: Executor
  replicator: RecordReplicator
  submitService: SubmitService
  closeDatastore(): Promise<void>
}

/**
 * How a node stops: an optional drain (no new work; the runs under way may finish), then every run
 * still under way handed back (a leased one to its owner, an owned one to the journal), the last
 * records flushed, and the parts stopped in the reverse order of their start.
 */
export class Shutdown {
  private stopping: Promise<void> | undefined
  private readonly drainCut = new AbortController()

  constructor(private readonly o: ShutdownParts) {}

  /** Stops (see {@link StopOptions}); a second call during a drain ends the drain at once. */
  stop(opts: StopOptions): Promise<void> {
    if (this.stopping !== undefined) {
      this.drainCut.abort()
      return this.stopping
    }
    this.stopping = this.shutDown(opts)
    return this.stopping
  }

  private async drain(ms: number, signal: AbortSignal | undefined): Promise<void> {
    const p = this.o.parts
    this.o.lifecycle.state = 'draining'
    p.beacons.send()
    await p.thief.releaseUnstarted()
    const ends = [this.drainCut.signal, AbortSignal.timeout(ms), ...(signal === undefined ? [] : [signal])]
    await p.runLoop.whenIdle(AbortSignal.any(ends))
  }

  /** Hands the runs still under way back: a leased one to its owner, an owned one to the journal. */
  private async interruptRuns(crashed: boolean): Promise<void> {
    const p = this.o.parts
    const now = Date.now()
    const handed: Promise<void>[] = []
    for (const { entry, startedAt } of p.runner.runningEntries()) {
      if (p.ledger.isCurrent(entry)) p.ledger.interrupt(entry.task.id, crashed)
      else if (p.thief.isCurrent(entry)) {
        // keys in sorted order, as records have them (see `runRecord`)
        const run = {
          cut: crashed ? ('lost' as const) : ('interrupted' as const),
          epoch: entry.epoch,
          error: crashed ? CRASHED : 'interrupted: its node stopped',
          executor: this.o.self,
          finishedAt: now,
          startedAt,
        }
        handed.push(p.thief.handBack(entry, run))
      }
    }
    p.runner.cancelAll('node stopping')
    await Promise.all(handed)
  }

  private async shutDown(opts: StopOptions): Promise<void> {
    if (this.o.lifecycle.state === 'stopped') return
    if ((opts.drainTimeoutMs ?? 0) > 0 && this.o.lifecycle.state === 'running') {
      await this.drain(opts.drainTimeoutMs ?? 0, opts.signal)
    }
    this.o.lifecycle.state = 'stopping'
    const p = this.o.parts
    for (const t of this.o.timers) clearInterval(t)
    p.beacons.stop()
    p.liveness.stop()
    p.custodian.stop()
    p.replay.stop()
    await p.thief.releaseUnstarted()
    await this.interruptRuns(opts.crashed === true)
    await p.publisher.settled() // records of runs that ended (a drain's) reach the store before it flushes
    p.publisher.flushNow()
    p.completions.flushNow()
    await Promise.race([p.results.flush(), delay(STOP_FLUSH_MS)])
    p.results.close()
    await this.o.replicator.stop()
    p.gossip.stop()
    await p.stopMesh()
    await p.steal.stop().catch(() => undefined)
    await this.o.submitService.stop().catch(() => undefined)
    await closeConnections(this.o.libp2p)
    await this.o.libp2p.stop()
    await this.o.executor.close()
    await p.ledger.flushJournal()
    await this.o.closeDatastore()
    this.o.lifecycle.state = 'stopped'
  }
}

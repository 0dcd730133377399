import type { Executor } from '../executor/executor.ts'
import type { ResultRecord } from '../protocol/records/result-record.ts'
import { asSingleSpecError } from '../task/errors.ts'
import type { TaskSpecInput } from '../task/spec.ts'
import { checkTaskId } from '../task/task-id.ts'
import { assembleNode, type Lifecycle, type NodeParts } from './assemble.ts'
import { assembleHost } from './assemble-host.ts'
import { explainOpenFailure } from './data-dir-lock.ts'
import type { FrontDoor } from './front-door.ts'
import { type NodeStatus, statusOfParts } from './node-status.ts'
import { type ResolvedNodeOptions, resolveNodeOptions, type TaskmeshNodeOptions } from './options.ts'
import type { CancelResult, TaskState } from './owner/cancellation.ts'
import type { GraphItemInput } from './owner/submission.ts'
import type { RecordReplicator } from './results/record-replicator.ts'
import type { GetOptions } from './results/result-lookup.ts'
import { ResultReader } from './results/result-reader.ts'
import { Shutdown, type StopOptions } from './run/shutdown.ts'
import { startNode, startOrStop } from './run/startup.ts'
import { StopGate } from './stop-gate.ts'
import type { StoryEvent } from './story/story.ts'
import type { TaskEventListener } from './story/task-events.ts'
import { submitAndWaitWith, takeHandles } from './take-handles.ts'
import type { SubmitOptions, TakenHandles, TaskHandle } from './task-handle.ts'
import type { NodeMetrics } from './telemetry/node-metrics.ts'
import type { MeshView } from './watch/mesh-view.ts'
import { nodeMeshView, nodeTaskList } from './watch/node-views.ts'
import type { TaskListPage, TaskListQuery } from './watch/task-list.ts'
import type { WatchDoor } from './watch-door.ts'
import type { MeshLibp2p } from './wire/libp2p-factory.ts'
import { OwnAddresses } from './wire/own-addresses.ts'
import { streamLimits } from './wire/stream-limits.ts'
import { SubmitService } from './wire/submit-service.ts'

/**
 * One taskmesh node: accepts submissions, runs tasks, steals work and stores results. Every node is
 * identical. The public face of a node: it stands on what `assemble-host.ts` builds (identity,
 * stores, libp2p), starts and stops as `run/startup.ts` and `run/shutdown.ts` say, and its parts
 * are wired in `assemble.ts`: `owner/`, `run/`, `thief/`, `results/`, `recovery/`, `peers/`, `wire/`.
 */
export class TaskmeshNode implements FrontDoor, WatchDoor {
  readonly peerId: string
  private readonly parts: NodeParts
  private readonly lifecycle: Lifecycle
  private readonly submitService: SubmitService
  private readonly timers: NodeJS.Timeout[] = []
  private readonly shutdown: Shutdown
  private readonly reader: ResultReader
  private readonly addresses: OwnAddresses
  private readonly gate: StopGate

  private constructor(
    readonly libp2p: MeshLibp2p,
    executor: Executor,
    private readonly opts: ResolvedNodeOptions,
    private readonly replicator: RecordReplicator,
    closeDatastore: () => Promise<void>,
    parts: (lifecycle: Lifecycle) => NodeParts,
  ) {
    this.peerId = libp2p.peerId.toString()
    this.addresses = new OwnAddresses(libp2p)
    this.lifecycle = { state: 'new' }
    this.parts = parts(this.lifecycle)
    this.parts.metrics.readFrom(() => this.status())
    const { ledger, thief, intake, publisher } = this.parts
    this.gate = new StopGate(this.lifecycle, this.parts.results)
    this.reader = new ResultReader({
      stopped: () => this.gate.stopped,
      results: this.parts.results,
      isLocal: (id) => ledger.has(id) || thief.holds(id) || intake.gate.has(id) || publisher.producing(id),
      remoteWaits: this.parts.remoteWaits,
    })
    this.submitService = new SubmitService(libp2p, this, {
      limits: streamLimits(opts),
      allowSubmitters: opts.allowSubmitters,
    })
    this.shutdown = new Shutdown({
      ...{ parts: this.parts, lifecycle: this.lifecycle, timers: this.timers, self: this.peerId },
      ...{ libp2p, executor, replicator, closeDatastore, submitService: this.submitService },
    })
  }

  /** Creates and starts a node. @throws DataDirInUseError when another node uses `dataDir` */
  static async create(options: TaskmeshNodeOptions = {}): Promise<TaskmeshNode> {
    const opts = resolveNodeOptions(options)
    const host = await assembleHost(opts).catch(async (err: unknown) => {
      throw await explainOpenFailure(err, opts.dataDir)
    })
    const { libp2p, executor, replicator } = host
    const node = new TaskmeshNode(libp2p, executor, opts, replicator, host.closeDatastore, (lifecycle) =>
      assembleNode({ ...host, opts, lifecycle }),
    )
    await startOrStop({ start: () => node.start(), stop: () => node.stop() })
    return node
  }

  private async start(): Promise<void> {
    await startNode({
      ...{ parts: this.parts, lifecycle: this.lifecycle, timers: this.timers, libp2p: this.libp2p },
      ...{ replicator: this.replicator, submitService: this.submitService, leaseTtlMs: this.opts.leaseTtlMs },
    })
  }

  /** Multiaddrs others can dial, with this node's /p2p/ id. */
  get multiaddrs(): string[] {
    return this.addresses.list()
  }

  /** Handler types this node runs. */
  get types(): string[] {
    return this.parts.offer.types
  }

  /** Validates and accepts one task; see {@link submitMany}. */
  async submit(spec: TaskSpecInput, opts: SubmitOptions = {}): Promise<TaskHandle> {
    try {
      return (await this.submitMany([spec], opts))[0]
    } catch (err) {
      throw asSingleSpecError(err) // its errors name `task.…`, not `tasks[0].…`
    }
  }

  /**
   * Validates every spec, then accepts them all (or none): queues them here, announces them
   * to the mesh and returns their handles at once (in submission order). Items may form a graph:
   * a `key` each, and `dependsOn` naming keys of this submission or ids of tasks known here; a
   * task with dependencies waits here until they all succeeded, and fails when one fails.
   * @throws InvalidTaskError (also for a cycle, a dangling or duplicate key) / UnknownHandlerError
   *   / QueueFullError — nothing is queued.
   */
  async submitMany(
    specs: Array<GraphItemInput> | unknown[],
    opts: SubmitOptions = {},
  ): Promise<TaskHandle[]> {
    const { handles, accepted } = await this.take(specs, opts)
    await accepted
    return handles
  }

  /**
   * Submits like {@link submitMany} and waits for each result (null if none when `signal` aborts;
   * without one, after `DEFAULT_RESULT_WAIT_MS`): with every result in, it returns at once (custody:
   * see `custodyGrace`); else once accepted too. @throws NodeStoppedError when the node stops first
   */
  async submitAndWait(
    specs: unknown[],
    opts: { submitter?: string; signal?: AbortSignal } = {},
  ): Promise<{ handles: TaskHandle[]; results: Array<ResultRecord | null> }> {
    return submitAndWaitWith((given, after) => this.take(specs, given, after), opts)
  }

  /** Takes a submission in and makes its handles (see {@link takeHandles}). */
  private take(specs: unknown[], opts: SubmitOptions, after?: Promise<void>): Promise<TakenHandles> {
    const waitResult = (id: string, signal?: AbortSignal) => this.reader.waitResult(id, signal)
    return takeHandles({ acceptance: this.parts, self: this.peerId, waitResult }, specs, opts, after)
  }

  /**
   * One poll: the record if known here or found in the DHT, else undefined. Past the cache, the
   * peers closest to its key are asked over the fetch protocol first, a kad-dht lookup made only
   * when they cannot tell (or with `dhtOnly`, see {@link GetOptions}).
   */
  getResult(id: string, opts: GetOptions = {}): Promise<ResultRecord | undefined> {
    return this.reader.getResult(id, opts) // a task in progress here: no lookup
  }

  /** Resolves with the task's result once it lands (notice, local run, DHT poll); rejects on `signal`. */
  waitResult(id: string, signal?: AbortSignal): Promise<ResultRecord> {
    return this.reader.waitResult(id, signal)
  }

  /** The signed record value of a task (what the DHT stores), optionally waiting for it. */
  signedResult(id: string, opts: { wait: boolean; signal?: AbortSignal }): Promise<Uint8Array | undefined> {
    return this.reader.signedResult(id, opts)
  }

  /** Calls `callback` once when the task's result lands. */
  onResult(id: string, callback: (record: ResultRecord) => void, signal?: AbortSignal): void {
    this.waitResult(id, signal).then(callback, () => undefined)
  }

  /** Yields the results of `ids` in the order they land. */
  results(ids: string[], signal?: AbortSignal): AsyncGenerator<ResultRecord> {
    return this.reader.results(ids, signal)
  }

  /** Resolves once the node knows which records its store holds (writes before then read it). */
  recordsIndexed(): Promise<void> {
    return this.replicator.indexed()
  }

  /** Resolves when every result this node produced is stored: its local copy, then its copies sent. */
  async flushResults(): Promise<void> {
    await this.parts.publisher.settled()
    await this.parts.results.flush()
  }

  /**
   * Cancels a task: its owner drops it if it waits, removes it if queued, aborts it if it runs,
   * revokes its lease if a thief holds it, and publishes the final record `failed` / `cancelled`
   * (never retried; dependents fail). A node that does not own the task forwards to its owner.
   * @throws UnknownTaskError when neither this node nor the owner it knows of has the task;
   *   OwnerDownError when its owner cannot be reached and no node in reach has taken it over yet.
   */
  async cancel(id: string, opts: { forwarded?: boolean } = {}): Promise<CancelResult> {
    this.gate.check(`cancel task ${checkTaskId(id, 'cancel')}`, id) // nothing would be journalled or published
    return this.parts.control.cancel(id, opts)
  }

  /**
   * How a task stands (`waiting`, `queued`, `leased`, `running`, `unschedulable`, `done`, `unknown`).
   * @throws NodeStoppedError once the node is stopping or stopped (its runs were cut, handed back)
   */
  async taskState(id: string, opts: { forwarded?: boolean } = {}): Promise<TaskState> {
    this.gate.check(`tell how task ${checkTaskId(id, 'taskState')} stands`, id)
    return this.parts.control.state(id, opts)
  }

  /** The decisions this node took about a task, oldest first (empty when it knows nothing of it). */
  story(id: string): StoryEvent[] {
    return this.parts.stories.get(checkTaskId(id, 'story'))
  }

  /** A snapshot of this node and the peers it hears from. */
  status(): NodeStatus {
    const own = { self: this.peerId, addresses: this.multiaddrs, speed: this.opts.speed }
    return statusOfParts(this.parts, { ...own, unsentResults: this.replicator.unsent?.size ?? 0 })
  }

  /** Where the node is in its life: `running` takes work, no other state does (`GET /healthz`). */
  get state(): Lifecycle['state'] {
    return this.lifecycle.state
  }

  /** This node's Prometheus metrics (a registry of its own; every name starts with `taskmesh_`). */
  get metrics(): NodeMetrics {
    return this.parts.metrics
  }

  /** Calls `listener` with every task event of this node from now on; returns what stops it. */
  onTaskEvent(listener: TaskEventListener): () => void {
    return this.parts.events.on(listener)
  }

  /** Task event listeners attached now (the story log's included). */
  get taskEventListeners(): number {
    return this.parts.events.listenerCount
  }

  /**
   * The tasks this node owns — waiting, queued, leased, running, unschedulable — and the last ones
   * that ended here (`succeeded`, `failed`), oldest accepted first, one page at a time.
   */
  listTasks(query: TaskListQuery = {}): TaskListPage {
    return nodeTaskList({ ...this.parts, gate: this.parts.intake.gate }, query)
  }

  /** Every node this node hears of (itself, its neighbours, peers named in their hot lists) with capacity and load. */
  meshView(): MeshView {
    return nodeMeshView({ ...this.parts, speed: this.opts.speed })
  }

  /** Resolves once this node has heard capacity beacons from at least `count` peers; rejects at stop. */
  async waitForPeers(count: number, signal: AbortSignal = AbortSignal.timeout(30_000)): Promise<void> {
    const wait = (s: AbortSignal) => this.parts.peers.waitForSize(count, s)
    return this.gate.untilStop(signal, { where: 'waitForPeers', action: `wait for ${count} peers` }, wait)
  }

  /** Peers whose capacity beacons this node has heard. */
  knownPeers(): string[] {
    return this.parts.peers.neighbourList().map((p) => p.peerId)
  }

  /** Tasks this node owns that have no result yet. */
  get ownedCount(): number {
    return this.parts.ledger.size
  }

  /**
   * Replaces the peers this node refuses (`denyPeers`), cutting its connections to them at once;
   * returns how many it cut. @throws InvalidTaskError naming an entry that is not a peer id
   */
  denyPeers(peers: readonly string[]): number {
    return this.parts.denied.replace(peers)
  }

  /** The node's counters (also in {@link status}). */
  get counters(): NodeStatus['counters'] {
    return this.parts.counters
  }

  /**
   * Stops the node, after a drain when `drainTimeoutMs` is given (see {@link StopOptions}).
   * Leased-in work that has not started goes back to its owners at once; runs cut short go back
   * too, as interrupted attempts. A second call during a drain ends the drain at once; both calls
   * resolve when the node has stopped; waits still pending (and later ones) reject, `ERR_NODE_STOPPED`.
   */
  stop(opts: StopOptions = {}): Promise<void> {
    return this.shutdown.stop(opts).finally(() => this.gate.end())
  }
}

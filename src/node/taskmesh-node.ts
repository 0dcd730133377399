import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import { Executor } from '../executor/executor.ts'
import { HandlerRegistry } from '../executor/handler-registry.ts'
import type { ResultRecord } from '../protocol/records/result-record.ts'
import { VerifiedRoots } from '../protocol/records/verified-roots.ts'
import { QueueFullError } from '../task/errors.ts'
import type { TaskSpecInput } from '../task/spec.ts'
import { stallAwareInterval } from '../util/stall-aware-interval.ts'
import { Accounting } from './accounting/accounting.ts'
import { assembleNode, type Lifecycle, type NodeParts } from './assemble.ts'
import type { FrontDoor } from './front-door.ts'
import { type NodeStatus, nodeStatus } from './node-status.ts'
import {
  DEFAULT_RESULT_WAIT_MS,
  type ResolvedNodeOptions,
  resolveNodeOptions,
  type TaskmeshNodeOptions,
} from './options.ts'
import type { CancelResult, TaskState } from './owner/cancellation.ts'
import type { Intake } from './owner/intake.ts'
import { JOURNAL_FILE, TaskJournal } from './owner/journal.ts'
import type { GraphItemInput } from './owner/submission.ts'
import { UNSCHEDULABLE_CHECK_MS } from './owner/unschedulable.ts'
import { RecordReplicator } from './results/record-replicator.ts'
import { Shutdown, type StopOptions } from './run/shutdown.ts'
import type { StoryEvent } from './story/story.ts'
import type { TaskEventListener } from './story/task-events.ts'
import type { SubmitOptions, TaskHandle } from './task-handle.ts'
import type { NodeMetrics } from './telemetry/node-metrics.ts'
import { RENEW_CHECK_MS } from './thief/thief.ts'
import type { MeshView } from './watch/mesh-view.ts'
import { nodeMeshView, nodeTaskList } from './watch/node-views.ts'
import type { TaskListPage, TaskListQuery } from './watch/task-list.ts'
import type { WatchDoor } from './watch-door.ts'
import { loadOrCreatePeerKey } from './wire/identity.ts'
import { createMeshLibp2p, type MeshLibp2p } from './wire/libp2p-factory.ts'
import { PeerRecordCache } from './wire/peer-record-cache.ts'
import { streamLimits } from './wire/stream-limits.ts'
import { SubmitService } from './wire/submit-service.ts'

export type { NodeCounters } from './node-counters.ts'
export type { NodeStatus } from './node-status.ts'
export type { CancelResult, TaskState } from './owner/cancellation.ts'
export type { GraphItemInput } from './owner/submission.ts'
export type { StopOptions } from './run/shutdown.ts'
export type { StoryEvent } from './story/story.ts'
export type { TaskEvent, TaskEventListener } from './story/task-events.ts'
export type { SubmitOptions, TaskHandle } from './task-handle.ts'
export type { MeshNode, MeshView } from './watch/mesh-view.ts'
export type { ListedState, ListedTask, TaskListPage, TaskListQuery } from './watch/task-list.ts'

/** How often the node logs the limits that bit (queue full, inbound budget), ms. */
const LIMIT_CHECK_MS = 1_000

/**
 * One taskmesh node: accepts submissions, runs tasks, steals work and stores results. Every node
 * is identical. This class is the public face of a node; its parts are built and wired in
 * `assemble.ts`: the owner side in `owner/`, the run loop in `run/`, the thief side in `thief/`,
 * results in `results/`, crash recovery in `recovery/`, what it knows of peers in `peers/`, and
 * the libp2p protocols in `wire/`.
 */
export class TaskmeshNode implements FrontDoor, WatchDoor {
  readonly peerId: string
  private readonly parts: NodeParts
  private readonly lifecycle: Lifecycle
  private readonly submitService: SubmitService
  private readonly timers: NodeJS.Timeout[] = []
  private readonly shutdown: Shutdown

  private constructor(
    readonly libp2p: MeshLibp2p,
    executor: Executor,
    private readonly opts: ResolvedNodeOptions,
    private readonly replicator: RecordReplicator,
    closeDatastore: () => Promise<void>,
    parts: (lifecycle: Lifecycle) => NodeParts,
  ) {
    this.peerId = libp2p.peerId.toString()
    this.lifecycle = { state: 'new' }
    this.parts = parts(this.lifecycle)
    this.parts.metrics.readFrom(() => this.status())
    this.submitService = new SubmitService(libp2p, this, {
      limits: streamLimits(opts),
      allowSubmitters: opts.allowSubmitters,
    })
    this.shutdown = new Shutdown({
      ...{ parts: this.parts, lifecycle: this.lifecycle, timers: this.timers, self: this.peerId },
      ...{ libp2p, executor, replicator, closeDatastore, submitService: this.submitService },
    })
  }

  /** Creates and starts a node. */
  static async create(options: TaskmeshNodeOptions = {}): Promise<TaskmeshNode> {
    const opts = resolveNodeOptions(options)
    const { dataDir } = opts
    const privateKey: PrivateKey =
      opts.privateKey ??
      (dataDir === undefined ? await generateKeyPair('Ed25519') : await loadOrCreatePeerKey(dataDir))
    let datastore: LevelDatastore | undefined
    if (dataDir !== undefined) {
      datastore = new LevelDatastore(join(dataDir, 'datastore'))
      await datastore.open()
    }
    // one datastore for kad-dht and the replicator, which writes records where kad-dht reads them
    const accounting = new Accounting()
    const counted = accounting.countDatastore(datastore ?? new MemoryDatastore())
    // the peer store reads its entries at every call: on disk they are kept in memory too
    const recordStore = datastore === undefined ? counted : new PeerRecordCache(counted)
    const registry = opts.registry ?? (await HandlerRegistry.withBuiltins(opts.handlers))
    const executor = new Executor({ registry, pool: opts.pool })
    const roots = new VerifiedRoots(undefined, accounting.signatures)
    const libp2p = await createMeshLibp2p({
      ...{ roots, privateKey, listen: opts.listen, bootstrap: opts.bootstrap, transport: opts.transport },
      ...{ datastore: recordStore, swarmKey: opts.swarmKey, mdns: opts.mdns, metrics: accounting.metrics },
      start: false,
    })
    const replicator = new RecordReplicator({
      libp2p,
      datastore: recordStore,
      roots,
      limits: streamLimits(opts),
    })
    const journal =
      dataDir === undefined ? undefined : new TaskJournal(join(dataDir, JOURNAL_FILE), opts.durability)
    if (journal !== undefined) accounting.countJournal(journal.stats)
    const node = new TaskmeshNode(
      libp2p,
      executor,
      opts,
      replicator,
      async () => {
        await journal?.close()
        await datastore?.close()
      },
      (lifecycle) =>
        assembleNode({
          ...{ libp2p, registry, executor, opts, privateKey, replicator, roots, journal, lifecycle },
          accounting,
        }),
    )
    await node.start()
    return node
  }

  private async start(): Promise<void> {
    const p = this.parts
    // every protocol is registered before libp2p starts (and dials): the first identify exchange
    // with a peer lists them all
    await this.replicator.start()
    await p.steal.start()
    await this.submitService.start()
    await p.serveMesh()
    await this.libp2p.start()
    p.gossip.start()
    this.libp2p.addEventListener('peer:disconnect', (evt) => p.peers.remove(evt.detail.toString()))
    await p.startMesh()
    const expiry = stallAwareInterval(Math.max(50, Math.floor(this.opts.leaseTtlMs / 4)), (stalledMs) => {
      if (stalledMs > 0) p.ledger.postponeLeases(stalledMs)
      else p.publishPoisoned(p.ledger.expireLeases())
    })
    this.every(RENEW_CHECK_MS, () => void p.thief.renewLeases())
    this.every(UNSCHEDULABLE_CHECK_MS, () => p.unschedulable.check())
    this.every(LIMIT_CHECK_MS, () => p.limitWatch.check())
    this.timers.push(expiry)
    this.lifecycle.state = 'running'
    p.beacons.start()
    p.liveness.start()
    await p.replay.start() // requeues the journal's open tasks once a peer is heard
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms)
    t.unref()
    this.timers.push(t)
  }

  /** Multiaddrs others can dial, with this node's /p2p/ id. */
  get multiaddrs(): string[] {
    return this.libp2p.getMultiaddrs().map((a) => a.toString())
  }

  /** Handler types this node runs. */
  get types(): string[] {
    return this.parts.offer.types
  }

  /** Validates and accepts one task; see {@link submitMany}. */
  async submit(spec: TaskSpecInput, opts: SubmitOptions = {}): Promise<TaskHandle> {
    const [handle] = await this.submitMany([spec], opts)
    return handle
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
    let prepared: ReturnType<Intake['accept']>
    try {
      prepared = this.parts.intake.accept(specs, opts.submitter ?? this.peerId)
    } catch (err) {
      if (err instanceof QueueFullError) this.parts.limitWatch.refused('queue_full')
      throw err
    }
    const tasks = prepared.map((p) => p.task)
    // the journal's fsync and the custodians' acknowledgement overlap: an answer waits for the
    // slower of the two, not their sum (with a data dir, accepted tasks survive a crash from here on)
    await Promise.all([this.parts.ledger.journalled(), this.parts.announce(tasks)])
    return prepared.map(({ task, key }) => {
      if (opts.onResult !== undefined) this.onResult(task.id, opts.onResult)
      const result = (signal?: AbortSignal) => this.waitResult(task.id, signal)
      return key === undefined ? { id: task.id, task, result } : { id: task.id, task, key, result }
    })
  }

  /** One poll: the record if known here or found in the DHT, else undefined. */
  async getResult(
    id: string,
    opts: { signal?: AbortSignal; skipCache?: boolean } = {},
  ): Promise<ResultRecord | undefined> {
    return this.parts.results.get(id, opts)
  }

  /**
   * Resolves with the task's result as soon as it lands (result notice, local run, or a DHT
   * poll that finds it). Rejects when `signal` aborts.
   */
  async waitResult(id: string, signal?: AbortSignal): Promise<ResultRecord> {
    const { results, ledger, thief, intake } = this.parts
    // without a signal, give up after DEFAULT_RESULT_WAIT_MS (a sweep, not a timer per waiter)
    const waiting = results.wait(id, signal, signal === undefined ? DEFAULT_RESULT_WAIT_MS : undefined)
    const local = ledger.has(id) || thief.holds(id) || intake.gate.has(id)
    if (!local && results.cached(id) === undefined) {
      // a task of another owner: hear every record's notice while waiting, and poll the DHT too
      const done = this.parts.remoteWaits.begin()
      waiting.then(done, done)
      void results.poll(id, signal ?? AbortSignal.timeout(DEFAULT_RESULT_WAIT_MS))
    }
    return waiting
  }

  /** The signed record value of a task (what the DHT stores), optionally waiting for it. */
  async signedResult(
    id: string,
    opts: { wait: boolean; signal?: AbortSignal },
  ): Promise<Uint8Array | undefined> {
    if (opts.wait) await this.waitResult(id, opts.signal)
    else if ((await this.parts.results.get(id, { signal: opts.signal })) === undefined) return undefined
    return this.parts.results.cachedValue(id)
  }

  /** Calls `callback` once when the task's result lands. */
  onResult(id: string, callback: (record: ResultRecord) => void, signal?: AbortSignal): void {
    this.waitResult(id, signal).then(callback, () => undefined)
  }

  /** Yields the results of `ids` in the order they land. */
  async *results(ids: string[], signal?: AbortSignal): AsyncGenerator<ResultRecord> {
    const pending = new Map(ids.map((id) => [id, this.waitResult(id, signal).then((r) => ({ id, r }))]))
    while (pending.size > 0) {
      const { id, r } = await Promise.race(pending.values())
      pending.delete(id)
      yield r
    }
  }

  /** Resolves when every result this node produced has been stored in the DHT. */
  async flushResults(): Promise<void> {
    await this.parts.results.flush()
  }

  /**
   * Cancels a task: its owner drops it if it waits, removes it if queued, aborts it if it runs,
   * revokes its lease if a thief holds it, and publishes the final record `failed` / `cancelled`
   * (never retried; dependents fail). A node that does not own the task forwards to its owner.
   * @throws UnknownTaskError when neither this node nor the owner it knows of has the task.
   */
  cancel(id: string, opts: { forwarded?: boolean } = {}): Promise<CancelResult> {
    return this.parts.control.cancel(id, opts)
  }

  /** How a task stands (`waiting`, `queued`, `leased`, `running`, `unschedulable`, `done`, `unknown`). */
  taskState(id: string, opts: { forwarded?: boolean } = {}): Promise<TaskState> {
    return this.parts.control.state(id, opts)
  }

  /** The decisions this node took about a task, oldest first (empty when it knows nothing of it). */
  story(id: string): StoryEvent[] {
    return this.parts.stories.get(id)
  }

  /** A snapshot of this node and the peers it hears from. */
  status(): NodeStatus {
    const p = this.parts
    return nodeStatus({
      ...{ self: this.peerId, addresses: this.multiaddrs, offer: p.offer, speed: this.opts.speed },
      ...{ counters: p.counters, queue: p.queue, runner: p.runner, ledger: p.ledger, thief: p.thief },
      ...{
        peers: p.peers,
        waiting: p.intake.gate.size,
        unschedulable: p.unschedulable,
        inbound: p.limits.budget,
        custodians: p.keeper.current,
        guarded: p.custodian.guarded,
        accounting: p.accounting,
      },
    })
  }

  /**
   * Where the node is in its life: `running` takes work; `new`, `draining`, `stopping` and `stopped`
   * do not (what `GET /healthz` reports).
   */
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

  /** Resolves once this node has heard capacity beacons from at least `count` peers. */
  waitForPeers(count: number, signal: AbortSignal = AbortSignal.timeout(30_000)): Promise<void> {
    const { peers } = this.parts
    if (signal.aborted && peers.size < count) {
      // an abort event never fires again on a signal aborted already
      return Promise.reject(new Error(`heard ${peers.size} of ${count} peers before the deadline`))
    }
    return peers.waitForSize(count, signal)
  }

  /** Peers whose capacity beacons this node has heard. */
  knownPeers(): string[] {
    return this.parts.peers.neighbourList().map((p) => p.peerId)
  }

  /** Tasks this node owns that have no result yet. */
  get ownedCount(): number {
    return this.parts.ledger.size
  }

  /** The node's counters (also in {@link status}). */
  get counters(): NodeStatus['counters'] {
    return this.parts.counters
  }

  /**
   * Stops the node, after a drain when `drainTimeoutMs` is given (see {@link StopOptions}).
   * Leased-in work that has not started goes back to its owners at once; runs cut short go back
   * too, as interrupted attempts. A second call during a drain ends the drain at once; both calls
   * resolve when the node has stopped.
   */
  stop(opts: StopOptions = {}): Promise<void> {
    return this.shutdown.stop(opts)
  }
}

import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import type { RunOutcome } from '../executor/executor.ts'
import { Executor } from '../executor/executor.ts'
import { HandlerRegistry } from '../executor/handler-registry.ts'
import { backoffDelayMs } from '../policy/backoff.ts'
import { canRun, DurationEstimator, expectedWaitMs } from '../policy/capacity.ts'
import type { NodeOffer, QueuedTask } from '../policy/types.ts'
import type { ResultNotice } from '../protocol/messages.ts'
import type { ResultRecord } from '../protocol/result-record.ts'
import { InvalidTaskError, QueueFullError, UnknownHandlerError } from '../task/errors.ts'
import { MAX_TASKS_PER_SUBMISSION } from '../task/limits.ts'
import { parseTaskSpec, type TaskSpecInput } from '../task/spec.ts'
import type { Task } from '../task/task.ts'
import { taskId } from '../task/task-id.ts'
import { Batcher } from './batcher.ts'
import { BeaconPublisher } from './beacons.ts'
import { CompletionReporter } from './completion-reporter.ts'
import { DhtReplicator } from './dht-replicator.ts'
import { MeshGossip } from './gossip.ts'
import { GossipInbox } from './gossip-inbox.ts'
import { loadOrCreatePeerKey } from './identity.ts'
import { createMeshLibp2p, type MeshLibp2p } from './libp2p-factory.ts'
import { LocalQueue } from './local-queue.ts'
import { createNodeCounters, type NodeCounters } from './node-counters.ts'
import type { NodeStatus } from './node-status.ts'
import {
  DEFAULT_RESULT_WAIT_MS,
  type ResolvedNodeOptions,
  resolveNodeOptions,
  type TaskmeshNodeOptions,
} from './options.ts'
import { OwnerLedger } from './owner-ledger.ts'
import { PeerView } from './peer-view.ts'
import { ResultStore } from './result-store.ts'
import { StealService } from './steal-service.ts'
import { SubmitService } from './submit-service.ts'
import type { SubmitOptions, TaskHandle } from './task-handle.ts'
import { type RunEntry, TaskRunner } from './task-runner.ts'
import { RENEW_CHECK_MS, Thief } from './thief.ts'

export type { NodeCounters } from './node-counters.ts'
export type { NodeStatus } from './node-status.ts'
export type { SubmitOptions, TaskHandle } from './task-handle.ts'

/**
 * Under load, result notices go out at most once per this window. Owners learn of completions
 * directly, so notices only serve other subscribers; each notice costs every peer a decrypt,
 * decode and signature check, so they are batched harder.
 */
const NOTICE_WINDOW_MS = 100

/** Longest a stopping node waits for its last results to reach the DHT. */
const STOP_FLUSH_MS = 5_000

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

/**
 * One taskmesh node: the composition root. It wires libp2p (gossip, kad-dht, the steal
 * protocol) to the pure policy (queue, leases, victim choice, steal amount) and the executor,
 * and carries out the policy's decisions. Every node is identical: it accepts submissions,
 * executes tasks, steals work and stores results.
 *
 * The owner side (owned tasks and the leases granted on them) lives in {@link OwnerLedger}, the
 * thief side (stealing and the leases held) in {@link Thief}, capacity beacons in
 * {@link BeaconPublisher}, inbound gossip in {@link GossipInbox}.
 */
export class TaskmeshNode {
  readonly peerId: string
  readonly counters: NodeCounters = createNodeCounters()

  private readonly opts: ResolvedNodeOptions
  private readonly estimator = new DurationEstimator()
  private readonly queue: LocalQueue
  private readonly peers = new PeerView()
  private readonly offer: NodeOffer
  private readonly runner: TaskRunner
  private readonly resultStore: ResultStore
  private readonly ledger: OwnerLedger
  private readonly thief: Thief
  private readonly completions: CompletionReporter
  private readonly beacons: BeaconPublisher
  private readonly gossip: MeshGossip
  private readonly steal: StealService
  private readonly submitService: SubmitService
  private readonly timers: NodeJS.Timeout[] = []
  private readonly notices = new Batcher<ResultNotice['results'][number]>(NOTICE_WINDOW_MS, (r) =>
    this.gossip.publishNotices(r),
  )
  private pumpScheduled = false
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'

  private constructor(
    readonly libp2p: MeshLibp2p,
    private readonly registry: HandlerRegistry,
    private readonly executor: Executor,
    private readonly ownsExecutor: boolean,
    opts: ResolvedNodeOptions,
    privateKey: PrivateKey,
    private readonly closeDatastore: () => Promise<void>,
    private readonly replicator: DhtReplicator,
  ) {
    this.opts = opts
    this.peerId = libp2p.peerId.toString()
    this.queue = new LocalQueue({ policy: opts.queuePolicy, estimator: this.estimator })
    this.offer = { types: registry.types(), labels: opts.labels, slots: opts.slots, memoryMb: opts.memoryMb }
    const { offer, queue, peers, counters } = this
    const { slots, speed } = opts
    this.runner = new TaskRunner({
      executor,
      slots,
      self: this.peerId,
      speed,
      onDone: (entry, outcome) => this.onAttemptDone(entry, outcome),
    })
    this.resultStore = new ResultStore({ dht: libp2p.services.dht, replicator, privateKey })
    this.ledger = new OwnerLedger({
      queue,
      results: this.resultStore,
      counters,
      leaseTtlMs: opts.leaseTtlMs,
      slots,
      speed,
      onRequeued: () => this.schedulePump(),
      onGranted: () => this.beacons.soon(),
    })
    const inbox = new GossipInbox({
      self: this.peerId,
      libp2p,
      peers,
      results: this.resultStore,
      onPeerBeacon: (from, msg) => this.thief.onPeerBeacon(from, msg.queued),
      onResultStored: (from, id, epoch) => this.ledger.noteResult(from, id, epoch),
    })
    this.gossip = new MeshGossip(libp2p, inbox)
    this.steal = new StealService(libp2p, {
      onSteal: (from, req) => this.ledger.grant(from, req),
      onRenew: (from, req) => this.ledger.renew(from, req),
      onComplete: (from, req) => this.ledger.complete(from, req),
      onRelease: (from, req) => this.ledger.release(from, req),
    })
    this.thief = new Thief({
      steal: this.steal,
      queue,
      runner: this.runner,
      peers,
      offer,
      slots,
      speed,
      random: opts.random,
      counters,
      isRunning: () => this.state === 'running',
      owns: (id) => this.ledger.has(id),
      onStealDone: () => this.schedulePump(),
    })
    this.completions = new CompletionReporter({
      steal: this.steal,
      counters,
      isStopped: () => this.state === 'stopped',
    })
    this.beacons = new BeaconPublisher({
      gossip: this.gossip,
      queue,
      runner: this.runner,
      offer,
      slots,
      speed,
      intervalMs: opts.beaconIntervalMs,
    })
    this.submitService = new SubmitService(libp2p, this)
  }

  /** Creates and starts a node. */
  static async create(options: TaskmeshNodeOptions = {}): Promise<TaskmeshNode> {
    const opts = resolveNodeOptions(options)
    const privateKey: PrivateKey =
      opts.privateKey ??
      (opts.dataDir === undefined
        ? await generateKeyPair('Ed25519')
        : await loadOrCreatePeerKey(opts.dataDir))
    let datastore: LevelDatastore | undefined
    if (opts.dataDir !== undefined) {
      datastore = new LevelDatastore(join(opts.dataDir, 'datastore'))
      await datastore.open()
    }
    // one datastore for kad-dht and the replicator, which writes records where kad-dht reads them
    const recordStore = datastore ?? new MemoryDatastore()
    const registry = opts.registry ?? (await HandlerRegistry.withBuiltins(opts.handlers))
    const executor = new Executor({ registry, pool: opts.pool })
    const libp2p = await createMeshLibp2p({
      privateKey,
      listen: opts.listen,
      bootstrap: opts.bootstrap,
      transport: opts.transport,
      datastore: recordStore,
      swarmKey: opts.swarmKey,
      mdns: opts.mdns,
    })
    const replicator = new DhtReplicator({ libp2p, datastore: recordStore })
    const node = new TaskmeshNode(
      libp2p,
      registry,
      executor,
      true,
      opts,
      privateKey,
      async () => {
        await datastore?.close()
      },
      replicator,
    )
    await node.start()
    return node
  }

  private async start(): Promise<void> {
    await this.libp2p.start()
    this.gossip.start()
    await this.steal.start()
    await this.submitService.start()
    this.libp2p.addEventListener('peer:disconnect', (evt) => {
      this.peers.remove(evt.detail.toString())
    })
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms)
      t.unref()
      this.timers.push(t)
    }
    every(Math.max(50, Math.floor(this.opts.leaseTtlMs / 4)), () => this.ledger.expireLeases())
    every(RENEW_CHECK_MS, () => void this.thief.renewLeases())
    this.state = 'running'
    this.beacons.start()
  }

  /** Multiaddrs others can dial, with this node's /p2p/ id. */
  get multiaddrs(): string[] {
    return this.libp2p.getMultiaddrs().map((a) => a.toString())
  }

  /** Handler types this node runs. */
  get types(): string[] {
    return this.offer.types
  }

  // ---------------------------------------------------------------- submission

  /** Validates and accepts one task; see {@link submitMany}. */
  async submit(spec: TaskSpecInput, opts: SubmitOptions = {}): Promise<TaskHandle> {
    const [handle] = await this.submitMany([spec], opts)
    return handle
  }

  /**
   * Validates every spec, then accepts them all (or none): queues them here, announces them
   * to the mesh and returns their handles at once.
   * @throws InvalidTaskError / UnknownHandlerError / QueueFullError — nothing is queued.
   */
  async submitMany(specs: unknown[], opts: SubmitOptions = {}): Promise<TaskHandle[]> {
    const tasks = this.accept(specs, opts.submitter ?? this.peerId)
    await this.gossip.announceTasks(tasks)
    return tasks.map((task) => {
      if (opts.onResult !== undefined) this.onResult(task.id, opts.onResult)
      return { id: task.id, task, result: (signal?: AbortSignal) => this.waitResult(task.id, signal) }
    })
  }

  private accept(specs: unknown[], submitter: string): Task[] {
    if (this.state !== 'running') throw new QueueFullError('node is not running')
    if (!Array.isArray(specs) || specs.length === 0) throw new InvalidTaskError('no tasks given', 'tasks')
    if (specs.length > MAX_TASKS_PER_SUBMISSION) {
      throw new InvalidTaskError(
        `${specs.length} tasks, over the limit of ${MAX_TASKS_PER_SUBMISSION}`,
        'tasks',
      )
    }
    const parsed = specs.map((raw, i) => {
      const field = specs.length === 1 ? 'task' : `tasks[${i}]`
      const spec = parseTaskSpec(raw, field)
      if (!this.registry.has(spec.type) && !this.peers.offersType(spec.type)) {
        throw new UnknownHandlerError(spec.type, `${field}.type`)
      }
      if (spec.dependsOn.length > 0) {
        throw new InvalidTaskError('dependencies are not supported by this node', `${field}.dependsOn`)
      }
      return spec
    })
    if (this.queue.size + parsed.length > this.opts.maxQueueLength) {
      throw new QueueFullError(
        `queue full: ${this.queue.size} queued + ${parsed.length} submitted exceeds ${this.opts.maxQueueLength}`,
      )
    }
    const now = Date.now()
    const tasks = parsed.map((spec) => {
      const nonce = `${now.toString(36)}-${Math.floor(this.opts.random() * 2 ** 52).toString(36)}`
      return {
        id: taskId(spec, submitter, nonce),
        spec,
        submitter,
        nonce,
        owner: this.peerId,
        submittedAt: now,
      }
    })
    for (const task of tasks) this.ledger.adopt(task)
    this.schedulePump()
    return tasks
  }

  // ---------------------------------------------------------------- results

  /** One poll: the record if known here or found in the DHT, else undefined. */
  async getResult(
    id: string,
    opts: { signal?: AbortSignal; skipCache?: boolean } = {},
  ): Promise<ResultRecord | undefined> {
    return this.resultStore.get(id, opts)
  }

  /**
   * Resolves with the task's result as soon as it lands (result notice, local run, or a DHT
   * poll that finds it). Rejects when `signal` aborts.
   */
  async waitResult(
    id: string,
    signal: AbortSignal = AbortSignal.timeout(DEFAULT_RESULT_WAIT_MS),
  ): Promise<ResultRecord> {
    const waiting = this.resultStore.wait(id, signal)
    const local = this.ledger.has(id) || this.thief.holds(id)
    if (!local && this.resultStore.cached(id) === undefined) {
      void this.resultStore.get(id, { signal }).catch(() => undefined)
    }
    return waiting
  }

  /** The signed record value of a task (what the DHT stores), optionally waiting for it. */
  async signedResult(
    id: string,
    opts: { wait: boolean; signal?: AbortSignal },
  ): Promise<Uint8Array | undefined> {
    if (opts.wait) await this.waitResult(id, opts.signal)
    else if ((await this.resultStore.get(id, { signal: opts.signal })) === undefined) return undefined
    return this.resultStore.cachedValue(id)
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
    await this.resultStore.flush()
  }

  // ---------------------------------------------------------------- queue & running

  private schedulePump(): void {
    if (this.pumpScheduled) return
    this.pumpScheduled = true
    queueMicrotask(() => {
      this.pumpScheduled = false
      this.pump()
    })
  }

  /** Fills free slots from the queue, then steals if work is short. */
  private pump(): void {
    if (this.state !== 'running') return
    const now = Date.now()
    while (this.runner.freeSlots > 0) {
      const free = this.runner.freeSlots
      const next = this.queue.pop(now, (t) => t.resources.slots <= free && canRun(this.offer, t))
      if (next === undefined) break
      this.startQueued(next)
    }
    this.beacons.soon()
    void this.thief.maybeSteal()
  }

  private startQueued(q: QueuedTask): void {
    const entry = this.ledger.beginRun(q.id) ?? this.thief.entry(q.id)
    if (entry !== undefined) this.runner.start(entry)
  }

  private onAttemptDone(entry: RunEntry, outcome: RunOutcome): void {
    if (this.state !== 'running') return // stopping: the attempt was cut off, not finished
    const id = entry.task.id
    this.counters.executed++
    if (outcome.status === 'succeeded') {
      const ms = outcome.finishedAt - outcome.startedAt
      this.estimator.observe(entry.task.spec.type, ms * this.opts.speed) // nominal work, comparable across nodes
      this.thief.observeTaskMs(ms)
    }
    const own = this.ledger.get(id)
    if (!this.thief.holds(id) && own === undefined) {
      this.schedulePump() // the lease was revoked while it ran: its result would be stale
      return
    }
    const retry =
      outcome.status === 'failed' &&
      !outcome.unrecoverable &&
      !outcome.cancelled &&
      entry.attempts.length < entry.task.spec.maxAttempts
    if (retry) {
      this.counters.retried++
      if (own !== undefined) own.state = 'retrying'
      const delay = backoffDelayMs(entry.attempts.length, this.opts.random, this.opts.backoff)
      const t = setTimeout(() => {
        if (this.state !== 'running') return
        if (own !== undefined && this.ledger.get(id) === own) own.state = 'queued'
        if (this.ledger.get(id) === own || this.thief.holds(id))
          this.queue.enqueue(entry.task, own !== undefined)
        this.schedulePump()
      }, delay)
      t.unref()
    } else {
      void this.finish(entry, outcome)
    }
    this.schedulePump()
  }

  private async finish(entry: RunEntry, outcome: RunOutcome): Promise<void> {
    const { task } = entry
    const first = entry.attempts[0]
    const record: ResultRecord = {
      v: 1,
      taskId: task.id,
      status: outcome.status,
      ...(outcome.status === 'succeeded'
        ? { output: outcome.output ?? null }
        : { error: outcome.error ?? 'failed' }),
      executor: this.peerId,
      owner: task.owner,
      epoch: entry.epoch,
      attempts: entry.attempts,
      submittedAt: task.submittedAt,
      startedAt: first?.startedAt ?? outcome.startedAt,
      finishedAt: outcome.finishedAt,
    }
    const owner = this.thief.settle(task.id)
    if (owner === undefined) this.ledger.settle(task.id, entry.epoch)
    const value = await this.resultStore.publish(record)
    this.notices.add({ taskId: task.id, status: record.status, epoch: record.epoch })
    if (owner !== undefined) this.completions.report(owner, record, value)
  }

  // ---------------------------------------------------------------- status & peers

  /** A snapshot of this node and the peers it hears from. */
  status(): NodeStatus {
    const now = Date.now()
    const queuedWorkMs = this.queue.queuedWorkMs(false)
    return {
      peerId: this.peerId,
      addresses: this.multiaddrs,
      slots: this.opts.slots,
      running: this.runner.runningCount,
      queued: this.queue.size,
      stealable: this.queue.stealableCount,
      leasedOut: this.ledger.leasedOut,
      leasedIn: this.thief.size,
      expectedWaitMs: expectedWaitMs({ queuedWorkMs, slots: this.opts.slots, speed: this.opts.speed }),
      types: this.offer.types,
      labels: this.offer.labels,
      peers: this.peers.list().map((p) => ({
        peerId: p.peerId,
        slots: p.slots,
        running: p.running,
        queued: p.queued,
        expectedWaitMs: expectedWaitMs(p),
        types: p.types,
        labels: p.labels,
        ageMs: now - p.updatedAt,
      })),
      counters: { ...this.counters },
    }
  }

  /** Resolves once this node has heard capacity beacons from at least `count` peers. */
  waitForPeers(count: number, signal: AbortSignal = AbortSignal.timeout(30_000)): Promise<void> {
    return this.peers.waitForSize(count, signal)
  }

  /** Peers whose capacity beacons this node has heard. */
  knownPeers(): string[] {
    return this.peers.list().map((p) => p.peerId)
  }

  /** Tasks this node owns that have no result yet. */
  get ownedCount(): number {
    return this.ledger.size
  }

  /** Stops the node: leased-in work that has not started goes back to its owners. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return
    this.state = 'stopping'
    for (const t of this.timers) clearInterval(t)
    this.beacons.stop()
    await this.thief.releaseUnstarted()
    this.runner.cancelAll('node stopping')
    this.notices.flushNow()
    this.completions.flushNow()
    await Promise.race([this.resultStore.flush(), delay(STOP_FLUSH_MS)])
    this.resultStore.close()
    this.replicator.stop()
    this.gossip.stop()
    await this.steal.stop().catch(() => undefined)
    await this.submitService.stop().catch(() => undefined)
    await this.libp2p.stop()
    if (this.ownsExecutor) await this.executor.close()
    await this.closeDatastore()
    this.state = 'stopped'
  }
}

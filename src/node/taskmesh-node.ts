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
import { GrantSigner } from '../protocol/grant-proof.ts'
import type { InboundBudget } from '../protocol/inbound-budget.ts'
import type { ResultNotice } from '../protocol/messages.ts'
import type { ResultRecord } from '../protocol/result-record.ts'
import { VerifiedRoots } from '../protocol/verified-roots.ts'
import type { TaskSpecInput } from '../task/spec.ts'
import { Batcher } from '../util/batcher.ts'
import { stallAwareInterval } from '../util/stall-aware-interval.ts'
import { Accounting } from './accounting/accounting.ts'
import { createNodeCounters, type NodeCounters } from './node-counters.ts'
import type { NodeStatus } from './node-status.ts'
import {
  DEFAULT_RESULT_WAIT_MS,
  type ResolvedNodeOptions,
  resolveNodeOptions,
  type TaskmeshNodeOptions,
} from './options.ts'
import type { CancelResult, TaskState } from './owner/cancellation.ts'
import { JOURNAL_FILE, TaskJournal } from './owner/journal.ts'
import { OwnerLedger, poisonOutcome } from './owner/owner-ledger.ts'
import type { GraphItemInput, PreparedTask } from './owner/submission.ts'
import { TaskFlow } from './owner/task-flow.ts'
import { BeaconPublisher } from './peers/beacons.ts'
import { BootstrapKeeper } from './peers/bootstrap-keeper.ts'
import { PeerView } from './peers/peer-view.ts'
import { Adopter, tapGossip } from './recovery/adoption.ts'
import { RecordReplicator } from './results/record-replicator.ts'
import { DEFAULT_SIGN_BATCH, RecordSigner } from './results/record-signer.ts'
import { ResultStore } from './results/result-store.ts'
import { LocalQueue } from './run/local-queue.ts'
import { type RunEntry, TaskRunner } from './run/task-runner.ts'
import { type StoryEvent, StoryLog } from './story/story.ts'
import { storyOwnerHandlers, storyStealRequests } from './story/story-tap.ts'
import type { SubmitOptions, TaskHandle } from './task-handle.ts'
import { CompletionReporter } from './thief/completion-reporter.ts'
import { RENEW_CHECK_MS, Thief } from './thief/thief.ts'
import { MeshGossip } from './wire/gossip.ts'
import { GossipInbox } from './wire/gossip-inbox.ts'
import { loadOrCreatePeerKey } from './wire/identity.ts'
import { createMeshLibp2p, type MeshLibp2p } from './wire/libp2p-factory.ts'
import { type StealHandlers, StealService } from './wire/steal-service.ts'
import { streamLimits } from './wire/stream-limits.ts'
import { SubmitService } from './wire/submit-service.ts'

export type { NodeCounters } from './node-counters.ts'
export type { NodeStatus } from './node-status.ts'
export type { CancelResult, TaskState } from './owner/cancellation.ts'
export type { GraphItemInput } from './owner/submission.ts'
export type { StoryEvent } from './story/story.ts'
export type { SubmitOptions, TaskHandle } from './task-handle.ts'

/**
 * Under load, result notices go out at most once per this window (a notice after a quiet spell
 * goes at once). Owners learn of completions directly, so notices serve other subscribers; each
 * notice costs every peer a decryption, a decode and a signature check — for every copy gossip
 * brings — so they are batched harder.
 */
const NOTICE_WINDOW_MS = 250

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
  private readonly adopter: Adopter
  private readonly timers: NodeJS.Timeout[] = []
  private readonly bootstrapKeeper: BootstrapKeeper
  private readonly stories = new StoryLog()
  private readonly flow: TaskFlow
  private readonly notices = new Batcher<ResultNotice['results'][number]>(NOTICE_WINDOW_MS, (r) => {
    this.gossip.publishNotices(r)
    for (const n of r) this.stories.record(n.taskId, 'stored', { status: n.status, epoch: n.epoch })
  })
  /** Bytes of inbound requests being received, shared by the steal, submit and replicate protocols. */
  private readonly inbound: InboundBudget
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
    private readonly replicator: RecordReplicator,
    roots: VerifiedRoots,
    private readonly accounting: Accounting,
  ) {
    this.opts = opts
    this.peerId = libp2p.peerId.toString()
    this.offer = { types: registry.types(), labels: opts.labels, slots: opts.slots, memoryMb: opts.memoryMb }
    this.queue = new LocalQueue({
      policy: opts.queuePolicy,
      stealOrder: opts.stealOrder,
      estimator: this.estimator,
      canRunHere: (t) => canRun(this.offer, t),
      runningWorkMs: () => this.runner.remainingWorkMs(Date.now(), (type) => this.estimator.estimate(type)),
    })
    const { offer, queue, peers, counters } = this
    const { slots, speed } = opts
    this.runner = new TaskRunner({
      executor: { run: (req) => this.flow.loader.run(req) }, // fills in dependency outputs first
      slots,
      self: this.peerId,
      speed,
      onDone: (entry, outcome) => this.onAttemptDone(entry, outcome),
    })
    this.resultStore = new ResultStore({
      dht: libp2p.services.dht,
      replicator,
      signer: new RecordSigner(privateKey, DEFAULT_SIGN_BATCH, accounting.signatures),
      roots,
    })
    this.ledger = new OwnerLedger({
      queue,
      results: this.resultStore,
      counters,
      leaseTtlMs: opts.leaseTtlMs,
      slots,
      speed,
      onRequeued: () => this.schedulePump(),
      onGranted: () => this.beacons.soon(),
      onExpired: (id, holder, epoch) => this.stories.record(id, 'lease-expired', { holder, epoch }),
      onLost: (id, holder, epoch) => this.stories.record(id, 'lease-lost', { holder, epoch }),
      journal:
        opts.dataDir === undefined
          ? undefined
          : new TaskJournal(join(opts.dataDir, JOURNAL_FILE), accounting.journal),
      maxExecutorLosses: opts.maxExecutorLosses,
      grants: new GrantSigner(privateKey, accounting.signatures),
      onPoisoned: (entry, error) => void this.finish(entry, poisonOutcome(error)),
    })
    const inbox = new GossipInbox({
      self: this.peerId,
      libp2p,
      peers,
      results: this.resultStore,
      onPeerBeacon: (from, msg) => this.thief.onPeerBeacon(from, msg.queued),
      onResultStored: (from, id, epoch) => this.ledger.noteResult(from, id, epoch),
      expectsCompletion: (from, id, epoch) => this.ledger.holdsLease(from, id, epoch),
    })
    this.gossip = new MeshGossip(
      libp2p,
      tapGossip(inbox, () => this.adopter),
      accounting.topics,
    )
    const ownerSide = {
      onSteal: (from, req) => this.ledger.grant(from, req),
      onRenew: (from, req) => this.ledger.renew(from, req),
      onComplete: (from, req) => this.ledger.complete(from, req),
      onRelease: (from, req) => this.ledger.release(from, req),
    } satisfies StealHandlers
    this.bootstrapKeeper = new BootstrapKeeper(libp2p, opts.bootstrap ?? [])
    const limits = streamLimits(opts)
    this.inbound = limits.budget
    this.steal = new StealService(libp2p, storyOwnerHandlers(ownerSide, this.stories), limits)
    this.thief = new Thief({
      steal: storyStealRequests(this.steal, this.stories),
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
      onStale: (id, owner) => this.adopter.reread(id, owner), // the owner holds the accepted record
      random: opts.random,
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
    this.flow = new TaskFlow(
      {
        ...{ self: this.peerId, libp2p, offer, queue, peers, runner: this.runner, ledger: this.ledger },
        ...{ thief: this.thief, results: this.resultStore, inbox, story: this.stories },
        maxQueueLength: opts.maxQueueLength,
        unschedulableAfterMs: opts.unschedulableAfterMs,
        random: opts.random,
        knowsType: (type) => registry.has(type) || peers.offersType(type),
        notice: (n) => this.notices.add(n),
        schedulePump: () => this.schedulePump(),
        state: () => this.state,
      },
      executor,
    )
    this.submitService = new SubmitService(libp2p, this, { limits, allowSubmitters: opts.allowSubmitters })
    this.adopter = new Adopter({
      ...{ self: this.peerId, libp2p, ledger: this.ledger, thief: this.thief, results: this.resultStore },
      announce: (tasks) => this.gossip.announceTasks(tasks),
      failureDetectionMs: opts.failureDetectionMs,
      beaconIntervalMs: opts.beaconIntervalMs,
      onOwned: (tasks, how, why) => {
        for (const t of tasks) {
          const lookup = why?.get(t.id)
          this.stories.record(t.id, how, lookup === undefined ? undefined : { lookup })
        }
        this.schedulePump()
      },
      onPeerDead: (peer) => this.peers.remove(peer),
    })
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
    const accounting = new Accounting()
    const recordStore = accounting.countDatastore(datastore ?? new MemoryDatastore())
    const registry = opts.registry ?? (await HandlerRegistry.withBuiltins(opts.handlers))
    const executor = new Executor({ registry, pool: opts.pool })
    const roots = new VerifiedRoots(undefined, accounting.signatures)
    const libp2p = await createMeshLibp2p({
      roots,
      privateKey,
      listen: opts.listen,
      bootstrap: opts.bootstrap,
      transport: opts.transport,
      datastore: recordStore,
      swarmKey: opts.swarmKey,
      mdns: opts.mdns,
      metrics: accounting.metrics,
    })
    const replicator = new RecordReplicator({
      libp2p,
      datastore: recordStore,
      roots,
      limits: streamLimits(opts),
    })
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
      roots,
      accounting,
    )
    await node.start()
    return node
  }

  private async start(): Promise<void> {
    await this.libp2p.start()
    await this.replicator.start()
    this.gossip.start()
    await this.steal.start()
    await this.submitService.start()
    this.libp2p.addEventListener('peer:disconnect', (evt) => {
      this.peers.remove(evt.detail.toString())
    })
    this.bootstrapKeeper.start()
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms)
      t.unref()
      this.timers.push(t)
    }
    const expiry = stallAwareInterval(Math.max(50, Math.floor(this.opts.leaseTtlMs / 4)), (stalledMs) => {
      if (stalledMs > 0) this.ledger.postponeLeases(stalledMs)
      else this.ledger.expireLeases()
    })
    this.timers.push(expiry)
    every(RENEW_CHECK_MS, () => void this.thief.renewLeases())
    this.state = 'running'
    this.beacons.start()
    await this.adopter.start() // replays the journal; then watches for dead owners
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
    const prepared = this.accept(specs, opts.submitter ?? this.peerId)
    const tasks = prepared.map((p) => p.task)
    await this.ledger.journalled() // with a data dir, accepted tasks survive a crash from here on
    await this.gossip.announceTasks(tasks)
    for (const task of tasks) this.stories.record(task.id, 'announced')
    return prepared.map(({ task, key }) => {
      if (opts.onResult !== undefined) this.onResult(task.id, opts.onResult)
      const result = (signal?: AbortSignal) => this.waitResult(task.id, signal)
      return key === undefined ? { id: task.id, task, result } : { id: task.id, task, key, result }
    })
  }

  /** Validates a submission (specs, or a graph) and accepts it whole; see {@link TaskFlow.accept}. */
  private accept(specs: unknown[], submitter: string): PreparedTask[] {
    return this.flow.accept(specs, submitter)
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
  async waitResult(id: string, signal?: AbortSignal): Promise<ResultRecord> {
    // without a signal, give up after DEFAULT_RESULT_WAIT_MS (a sweep, not a timer per waiter)
    const waiting = this.resultStore.wait(
      id,
      signal,
      signal === undefined ? DEFAULT_RESULT_WAIT_MS : undefined,
    )
    const local = this.ledger.has(id) || this.thief.holds(id) || this.flow.gate.has(id)
    if (!local && this.resultStore.cached(id) === undefined) {
      void this.resultStore.poll(id, signal ?? AbortSignal.timeout(DEFAULT_RESULT_WAIT_MS))
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
    if (entry === undefined) return
    this.stories.record(q.id, 'started', { epoch: entry.epoch, attempt: entry.attempts.length + 1 })
    this.runner.start(entry)
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
    const own = this.ledger.isCurrent(entry) ? this.ledger.get(id) : undefined
    if (own === undefined && !this.thief.isCurrent(entry)) {
      this.stories.record(id, 'dropped', { epoch: entry.epoch, reason: 'lease revoked or task cancelled' })
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
      this.stories.record(id, 'retried', { error: outcome.error ?? 'failed', delayMs: Math.round(delay) })
      const t = setTimeout(() => {
        if (this.state !== 'running') return
        // requeue only what is still this attempt's: not a task settled, poisoned or cancelled
        // meanwhile, nor a lease revoked (or replaced) during the backoff
        if (own !== undefined && this.ledger.get(id) === own && own.state === 'retrying') {
          own.state = 'queued'
          this.queue.enqueue(entry.task, true)
        } else if (own === undefined && this.thief.isCurrent(entry)) {
          this.queue.enqueue(entry.task, false)
        }
        this.schedulePump()
      }, delay)
      t.unref()
    } else {
      this.stories.record(id, 'finished', { status: outcome.status, epoch: entry.epoch })
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
      ...(entry.grant === undefined ? {} : { grant: entry.grant }),
      attempts: entry.attempts,
      submittedAt: task.submittedAt,
      startedAt: first?.startedAt ?? outcome.startedAt,
      finishedAt: outcome.finishedAt,
    }
    const owner = this.thief.settle(task.id)
    if (owner === undefined) this.ledger.settle(task.id, entry.epoch)
    const value = await this.resultStore.publish(record)
    this.adopter.published(task.id)
    this.notices.add({ taskId: task.id, status: record.status, epoch: record.epoch })
    if (owner !== undefined) this.completions.report(owner, record, value)
  }

  // ---------------------------------------------------------------- cancel, state, story

  /**
   * Cancels a task: its owner drops it if it waits, removes it if queued, aborts it if it runs,
   * revokes its lease if a thief holds it, and publishes the final record `failed` / `cancelled`
   * (never retried; dependents fail). A node that does not own the task forwards to its owner.
   * @throws UnknownTaskError when neither this node nor the owner it knows of has the task.
   */
  cancel(id: string, opts: { forwarded?: boolean } = {}): Promise<CancelResult> {
    return this.flow.cancel(id, opts)
  }

  /** How a task stands (`waiting`, `queued`, `leased`, `running`, `unschedulable`, `done`, `unknown`). */
  taskState(id: string, opts: { forwarded?: boolean } = {}): Promise<TaskState> {
    return this.flow.state(id, opts)
  }

  /** The decisions this node took about a task, oldest first (empty when it knows nothing of it). */
  story(id: string): StoryEvent[] {
    return this.stories.get(id)
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
      waiting: this.flow.gate.size,
      unschedulable: this.flow.unschedulable(),
      inbound: {
        bytes: this.inbound.usedBytes,
        streams: this.inbound.streams,
        evictions: this.inbound.evictions,
      },
      accounting: this.accounting.snapshot(),
    }
  }

  /** Resolves once this node has heard capacity beacons from at least `count` peers. */
  waitForPeers(count: number, signal: AbortSignal = AbortSignal.timeout(30_000)): Promise<void> {
    if (signal.aborted && this.peers.size < count) {
      // an abort event never fires again on a signal aborted already
      return Promise.reject(new Error(`heard ${this.peers.size} of ${count} peers before the deadline`))
    }
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
    this.adopter.stop()
    this.bootstrapKeeper.stop()
    await this.thief.releaseUnstarted()
    this.runner.cancelAll('node stopping')
    this.notices.flushNow()
    this.completions.flushNow()
    await Promise.race([this.resultStore.flush(), delay(STOP_FLUSH_MS)])
    this.resultStore.close()
    await this.replicator.stop()
    this.gossip.stop()
    await this.steal.stop().catch(() => undefined)
    await this.submitService.stop().catch(() => undefined)
    await this.libp2p.stop()
    if (this.ownsExecutor) await this.executor.close()
    await this.ledger.flushJournal()
    await this.closeDatastore()
    this.state = 'stopped'
  }
}

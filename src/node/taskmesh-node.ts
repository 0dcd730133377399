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
import { LeaseTable } from '../policy/leases.ts'
import { TaskQueue } from '../policy/queue.ts'
import { chooseVictim, grantCount, stealAmount } from '../policy/stealing.ts'
import type { NodeOffer, QueuedTask } from '../policy/types.ts'
import { MAX_ANNOUNCEMENT_BYTES, MAX_NOTICES_PER_MESSAGE } from '../protocol/constants.ts'
import type {
  Announcement,
  Beacon,
  CompleteReply,
  CompleteRequest,
  ReleaseReply,
  ReleaseRequest,
  RenewReply,
  RenewRequest,
  ResultNotice,
  StealGrant,
  StealRequest,
} from '../protocol/messages.ts'
import { openResultRecord, type ResultRecord, resultKey } from '../protocol/result-record.ts'
import { InvalidTaskError, QueueFullError, UnknownHandlerError } from '../task/errors.ts'
import { MAX_TASKS_PER_SUBMISSION } from '../task/limits.ts'
import { parseTaskSpec, type TaskSpecInput } from '../task/spec.ts'
import type { Task } from '../task/task.ts'
import { taskId } from '../task/task-id.ts'
import { Batcher } from './batcher.ts'
import { DhtReplicator } from './dht-replicator.ts'
import { MeshGossip } from './gossip.ts'
import { loadOrCreatePeerKey } from './identity.ts'
import { createMeshLibp2p, type MeshLibp2p } from './libp2p-factory.ts'
import {
  DEFAULT_ANNOUNCED_MEMORY,
  DEFAULT_PEER_STALE_MS,
  DEFAULT_RESULT_WAIT_MS,
  MIN_BEACON_GAP_MS,
  type ResolvedNodeOptions,
  resolveNodeOptions,
  type TaskmeshNodeOptions,
} from './options.ts'
import { PeerView } from './peer-view.ts'
import { ResultStore } from './result-store.ts'
import { StealService } from './steal-service.ts'
import { requestResultFrom, SubmitService } from './submit-service.ts'
import { type RunEntry, TaskRunner } from './task-runner.ts'

/** Records up to this size travel with the completion to the owner (larger ones: DHT only). */
const COMPLETION_RECORD_BYTES = 64 * 1024

/**
 * Under load, completions to one owner go out at most once per this window (batched); a
 * completion after a quiet spell goes out at once.
 */
const COMPLETION_WINDOW_MS = 20
/**
 * Under load, result notices go out at most once per this window. Owners learn of completions
 * directly, so notices only serve other subscribers; each notice costs every peer a decrypt,
 * decode and signature check, so they are batched harder.
 */
const NOTICE_WINDOW_MS = 100

/** Longest a stopping node waits for its last results to reach the DHT. */
const STOP_FLUSH_MS = 5_000

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

/** How often a thief checks whether its leases need renewing. */
const RENEW_CHECK_MS = 250

/** How a task stands at its owner. */
type OwnedState = 'queued' | 'leased' | 'running' | 'retrying'

interface OwnedTask {
  entry: RunEntry
  state: OwnedState
}

interface LeasedIn {
  entry: RunEntry
  owner: string
  /** The owner's lease time-to-live (from its grant). */
  ttlMs: number
  /** When the lease runs out, by this node's clock (grant or last renewal + ttl). */
  expiresAt: number
}

/** Counters a node keeps about its own work. */
export interface NodeCounters {
  accepted: number
  executed: number
  retried: number
  stealRequests: number
  stealsGranted: number
  tasksStolen: number
  tasksGranted: number
  leasesExpired: number
  staleCompletions: number
}

/** Options of one submission. */
export interface SubmitOptions {
  /** Who asked (peer id or client name). @defaultValue this node's peer id */
  submitter?: string
  /** Called once with the result record when it lands. */
  onResult?: (record: ResultRecord) => void
}

/** A submitted task: its id at once, its result when it lands. */
export interface TaskHandle {
  id: string
  task: Task
  /** Resolves with the result record (waits for the result notice, or the local run). */
  result(signal?: AbortSignal): Promise<ResultRecord>
}

/** A snapshot of a node for `taskmesh status`. */
export interface NodeStatus {
  peerId: string
  addresses: string[]
  slots: number
  running: number
  queued: number
  stealable: number
  leasedOut: number
  leasedIn: number
  expectedWaitMs: number
  types: string[]
  labels: string[]
  peers: Array<{
    peerId: string
    slots: number
    running: number
    queued: number
    expectedWaitMs: number
    types: string[]
    labels: string[]
    ageMs: number
  }>
  counters: NodeCounters
}

/**
 * One taskmesh node: the composition root. It wires libp2p (gossip, kad-dht, the steal
 * protocol) to the pure policy (queue, leases, victim choice, steal amount) and the executor,
 * and carries out the policy's decisions. Every node is identical: it accepts submissions,
 * executes tasks, steals work and stores results.
 */
export class TaskmeshNode {
  readonly peerId: string
  readonly counters: NodeCounters = {
    accepted: 0,
    executed: 0,
    retried: 0,
    stealRequests: 0,
    stealsGranted: 0,
    tasksStolen: 0,
    tasksGranted: 0,
    leasesExpired: 0,
    staleCompletions: 0,
  }

  private readonly opts: ResolvedNodeOptions
  private readonly queue: TaskQueue
  private readonly leases = new LeaseTable()
  private readonly estimator = new DurationEstimator()
  private readonly peers = new PeerView()
  private readonly owned = new Map<string, OwnedTask>()
  private readonly leasedIn = new Map<string, LeasedIn>()
  private readonly announced = new Map<string, Task>()
  private readonly runner: TaskRunner
  private readonly resultStore: ResultStore
  private readonly gossip: MeshGossip
  private readonly steal: StealService
  private readonly submitService: SubmitService
  private readonly offer: NodeOffer
  private readonly timers: NodeJS.Timeout[] = []
  private readonly peerWaiters = new Set<() => void>()
  private readonly notices = new Batcher<ResultNotice['results'][number]>(NOTICE_WINDOW_MS, (r) =>
    this.flushNotices(r),
  )
  private readonly pendingCompletions = new Map<string, Batcher<CompleteRequest['completions'][number]>>()
  private stealInFlight = false
  private readonly emptyVictims = new Set<string>()
  private stealRttMs = 2
  private meanTaskMs = 50
  private beaconSeq = 0
  private lastBeaconAt = 0
  private lastBeaconQueued = 0
  private beaconTimer: NodeJS.Timeout | undefined
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
    this.queue = new TaskQueue(opts.queuePolicy)
    this.offer = { types: registry.types(), labels: opts.labels, slots: opts.slots, memoryMb: opts.memoryMb }
    this.runner = new TaskRunner({
      executor,
      slots: opts.slots,
      self: this.peerId,
      speed: opts.speed,
      onDone: (entry, outcome) => this.onAttemptDone(entry, outcome),
    })
    this.resultStore = new ResultStore({ dht: libp2p.services.dht, replicator, privateKey })
    this.gossip = new MeshGossip(libp2p, {
      onAnnouncement: (from, msg) => this.onAnnouncement(from, msg),
      onBeacon: (from, msg) => this.onBeacon(from, msg),
      onResultNotice: (from, msg) => this.onResultNotice(from, msg),
    })
    this.steal = new StealService(libp2p, {
      onSteal: (from, req) => this.onStealRequest(from, req),
      onRenew: (from, req) => this.onRenew(from, req),
      onComplete: (from, req) => this.onComplete(from, req),
      onRelease: (from, req) => this.onRelease(from, req),
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
    every(this.opts.beaconIntervalMs, () => this.sendBeacon())
    every(Math.max(50, Math.floor(this.opts.leaseTtlMs / 4)), () => this.expireLeases())
    every(RENEW_CHECK_MS, () => void this.renewLeases())
    this.state = 'running'
    this.sendBeacon()
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
    await this.announce(tasks)
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
    for (const task of tasks) {
      if (this.owned.has(task.id)) continue
      this.counters.accepted++
      const entry: RunEntry = { task, epoch: 0, attempts: [], dependencies: {} }
      this.owned.set(task.id, { entry, state: 'queued' })
      this.enqueue(task, true)
    }
    this.schedulePump()
    return tasks
  }

  private async announce(tasks: Task[]): Promise<void> {
    let batch: Task[] = []
    let bytes = 0
    for (const task of tasks) {
      const size = Buffer.byteLength(JSON.stringify(task))
      if (batch.length > 0 && (batch.length >= 1000 || bytes + size > MAX_ANNOUNCEMENT_BYTES - 1024)) {
        await this.gossip.publishAnnouncement({ v: 1, tasks: batch })
        batch = []
        bytes = 0
      }
      batch.push(task)
      bytes += size
    }
    if (batch.length > 0) await this.gossip.publishAnnouncement({ v: 1, tasks: batch })
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
    const local = this.owned.has(id) || this.leasedIn.has(id)
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

  private enqueue(task: Task, stealable: boolean): void {
    this.queue.push({
      id: task.id,
      type: task.spec.type,
      priority: task.spec.priority,
      resources: task.spec.resources,
      enqueuedAt: Date.now(),
      stealable,
    })
  }

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
    this.beaconSoon()
    void this.maybeSteal()
  }

  private startQueued(q: QueuedTask): void {
    const own = this.owned.get(q.id)
    if (own !== undefined) {
      own.state = 'running'
      own.entry.epoch = this.leases.nextEpoch(q.id)
      this.runner.start(own.entry)
      return
    }
    const held = this.leasedIn.get(q.id)
    if (held !== undefined) this.runner.start(held.entry)
  }

  private onAttemptDone(entry: RunEntry, outcome: RunOutcome): void {
    if (this.state !== 'running') return // stopping: the attempt was cut off, not finished
    const id = entry.task.id
    this.counters.executed++
    if (outcome.status === 'succeeded') {
      const ms = outcome.finishedAt - outcome.startedAt
      this.estimator.observe(entry.task.spec.type, ms * this.opts.speed) // nominal work, comparable across nodes
      this.meanTaskMs = 0.9 * this.meanTaskMs + 0.1 * ms
    }
    const held = this.leasedIn.get(id)
    const own = this.owned.get(id)
    if (held === undefined && own === undefined) {
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
        if (own !== undefined && this.owned.get(id) === own) own.state = 'queued'
        if (this.owned.get(id) === own || this.leasedIn.has(id)) this.enqueue(entry.task, own !== undefined)
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
    const held = this.leasedIn.get(task.id)
    if (held !== undefined) this.leasedIn.delete(task.id)
    else {
      this.owned.delete(task.id)
      this.leases.complete(task.id, entry.epoch)
    }
    const value = await this.resultStore.publish(record)
    this.notices.add({ taskId: task.id, status: record.status, epoch: record.epoch })
    if (held !== undefined) this.reportCompletion(held.owner, record, value)
  }

  /** Gossips the results stored since the last flush in one notice (one signature, one verify per peer). */
  private flushNotices(results: ResultNotice['results']): void {
    for (let i = 0; i < results.length; i += MAX_NOTICES_PER_MESSAGE) {
      void this.gossip.publishNotice({ v: 1, results: results.slice(i, i + MAX_NOTICES_PER_MESSAGE) })
    }
  }

  /** Queues a completion for its owner; completions to one owner travel together, with their records. */
  private reportCompletion(owner: string, record: ResultRecord, value: Uint8Array): void {
    let batch = this.pendingCompletions.get(owner)
    if (batch === undefined) {
      batch = new Batcher(
        COMPLETION_WINDOW_MS,
        (completions) => void this.flushCompletions(owner, completions),
      )
      this.pendingCompletions.set(owner, batch)
    }
    batch.add({
      taskId: record.taskId,
      epoch: record.epoch,
      status: record.status,
      ...(value.byteLength <= COMPLETION_RECORD_BYTES
        ? { record: Buffer.from(value).toString('base64') }
        : {}),
    })
  }

  private async flushCompletions(owner: string, completions: CompleteRequest['completions']): Promise<void> {
    for (let attempt = 1; attempt <= 3 && this.state !== 'stopped'; attempt++) {
      try {
        const req: CompleteRequest = { type: 'complete', requestId: crypto.randomUUID(), completions }
        const reply = await this.steal.request(owner, req)
        this.counters.staleCompletions += reply.outcomes.filter((o) => o.outcome === 'stale').length
        return
      } catch {
        // the notice and the DHT record still carry the results; try the owner again
      }
    }
  }

  // ---------------------------------------------------------------- stealing (thief side)

  private myQueuedWorkMs(stealableOnly: boolean): number {
    let ms = 0
    for (const t of this.queue.values())
      if (!stealableOnly || t.stealable) ms += this.estimator.estimate(t.type)
    return ms
  }

  /**
   * Tasks to hold queued beyond the free slots so the slots stay busy while the next steal is
   * in flight: slots × (2 × steal round trip / mean task time), between 1 and 8 rounds of slots.
   */
  private prefetch(): number {
    const meanMs = Math.max(1, this.meanTaskMs)
    const rounds = Math.min(8, Math.max(1, Math.ceil((2 * this.stealRttMs) / meanMs)))
    return rounds * this.opts.slots
  }

  private async maybeSteal(): Promise<void> {
    if (this.stealInFlight || this.state !== 'running') return
    const prefetch = this.prefetch()
    if (this.queue.size >= this.runner.freeSlots + Math.ceil(prefetch / 2)) return
    const now = Date.now()
    const queuedWorkMs = this.myQueuedWorkMs(false)
    const myWait = expectedWaitMs({ queuedWorkMs, slots: this.opts.slots, speed: this.opts.speed })
    const victim = chooseVictim({
      self: { offer: this.offer, expectedWaitMs: myWait },
      peers: this.peers.list(),
      now,
      random: this.opts.random,
      transferCostMs: this.stealRttMs,
      staleAfterMs: DEFAULT_PEER_STALE_MS,
      exclude: this.emptyVictims,
    })
    if (victim === undefined) return
    const thief = {
      queued: this.queue.size,
      queuedWorkMs,
      slots: this.opts.slots,
      speed: this.opts.speed,
      freeSlots: this.runner.freeSlots,
      prefetch,
    }
    const max = stealAmount({ victim, thief })
    if (max <= 0) return
    this.stealInFlight = true
    this.counters.stealRequests++
    const started = performance.now()
    let got = 0
    try {
      const grant = await this.steal.request(victim.peerId, {
        type: 'steal',
        requestId: crypto.randomUUID(),
        max,
        offer: this.offer,
        queued: thief.queued,
        queuedWorkMs: thief.queuedWorkMs,
        speed: thief.speed,
        freeSlots: thief.freeSlots,
      })
      this.stealRttMs = 0.8 * this.stealRttMs + 0.2 * (performance.now() - started)
      got = this.takeGrant(victim.peerId, grant)
    } catch {
      got = 0
    } finally {
      this.stealInFlight = false
    }
    if (got === 0) this.emptyVictims.add(victim.peerId)
    if (this.state === 'running') this.schedulePump()
  }

  private takeGrant(victim: string, grant: StealGrant): number {
    const leases = new Map(grant.leases.map((l) => [l.taskId, l]))
    let taken = 0
    for (const task of grant.tasks) {
      const lease = leases.get(task.id)
      if (lease === undefined || this.leasedIn.has(task.id) || this.owned.has(task.id)) continue
      if (!canRun(this.offer, { type: task.spec.type, resources: task.spec.resources })) continue
      const entry: RunEntry = { task, epoch: lease.epoch, attempts: [], dependencies: {} }
      this.leasedIn.set(task.id, {
        entry,
        owner: victim,
        ttlMs: grant.ttlMs,
        expiresAt: Date.now() + grant.ttlMs,
      })
      this.enqueue(task, false)
      taken++
    }
    if (taken > 0) {
      this.counters.stealsGranted++
      this.counters.tasksStolen += taken
    }
    return taken
  }

  /** Renews, per owner in one request, every held lease that has used a third of its time. */
  private async renewLeases(): Promise<void> {
    const now = Date.now()
    const byOwner = new Map<string, Array<{ taskId: string; epoch: number }>>()
    for (const [taskId, held] of this.leasedIn) {
      if (held.expiresAt - now > (2 * held.ttlMs) / 3) continue
      const list = byOwner.get(held.owner) ?? []
      list.push({ taskId, epoch: held.entry.epoch })
      byOwner.set(held.owner, list)
    }
    await Promise.all(
      [...byOwner].map(async ([owner, leases]) => {
        try {
          const reply = await this.steal.request(owner, {
            type: 'renew',
            requestId: crypto.randomUUID(),
            leases,
          })
          for (const id of reply.rejected) this.dropLease(id)
          for (const id of reply.accepted) {
            const held = this.leasedIn.get(id)
            if (held !== undefined) held.expiresAt = now + held.ttlMs
          }
        } catch {
          // owner unreachable: keep working; the result record still lands in the DHT
        }
      }),
    )
  }

  private dropLease(taskId: string): void {
    if (!this.leasedIn.delete(taskId)) return
    this.queue.remove(taskId)
    this.runner.cancel(taskId, 'lease revoked')
  }

  // ---------------------------------------------------------------- stealing (owner side)

  private onStealRequest(from: string, req: StealRequest): StealGrant {
    const now = Date.now()
    const ttlMs = this.opts.leaseTtlMs
    const victim = {
      queued: this.queue.stealableCount,
      queuedWorkMs: this.myQueuedWorkMs(true),
      slots: this.opts.slots,
      speed: this.opts.speed,
    }
    const n = Math.min(
      req.max,
      grantCount({
        victim,
        thief: {
          queued: req.queued,
          queuedWorkMs: req.queuedWorkMs,
          slots: req.offer.slots,
          speed: req.speed,
          freeSlots: req.freeSlots,
        },
        requested: req.max,
      }),
    )
    const taken = n > 0 ? this.queue.takeForSteal(now, n, (t) => canRun(req.offer, t)) : []
    const tasks: Task[] = []
    const leases: StealGrant['leases'] = []
    for (const q of taken) {
      const own = this.owned.get(q.id)
      if (own === undefined) continue
      const lease = this.leases.grant(q.id, from, now, ttlMs)
      own.state = 'leased'
      own.entry.epoch = lease.epoch
      tasks.push(own.entry.task)
      leases.push({ taskId: q.id, epoch: lease.epoch, expiresAt: lease.expiresAt })
    }
    this.counters.tasksGranted += tasks.length
    if (tasks.length > 0) this.beaconSoon()
    return { type: 'grant', requestId: req.requestId, tasks, leases, ttlMs }
  }

  private onRenew(from: string, req: RenewRequest): RenewReply {
    const now = Date.now()
    const accepted: string[] = []
    const rejected: string[] = []
    for (const { taskId, epoch } of req.leases) {
      if (this.leases.renew(taskId, from, epoch, now, this.opts.leaseTtlMs)) accepted.push(taskId)
      else rejected.push(taskId)
    }
    return { type: 'renewed', requestId: req.requestId, accepted, rejected }
  }

  private async onComplete(from: string, req: CompleteRequest): Promise<CompleteReply> {
    await Promise.all(req.completions.map((c) => this.acceptRecord(from, c.taskId, c.record)))
    const outcomes = req.completions.map(({ taskId, epoch }) => {
      const lease = this.leases.get(taskId)
      if (lease !== undefined && lease.holder !== from) return { taskId, outcome: 'stale' as const }
      const outcome = this.owned.has(taskId) ? this.leases.complete(taskId, epoch) : 'unknown'
      if (outcome === 'accepted') this.owned.delete(taskId)
      return { taskId, outcome }
    })
    return { type: 'completed', requestId: req.requestId, outcomes }
  }

  /** Keeps a record a completion carried, once its signature checks out. */
  private async acceptRecord(from: string, taskId: string, encoded: string | undefined): Promise<void> {
    if (encoded === undefined) return
    try {
      const value = Buffer.from(encoded, 'base64')
      const record = await openResultRecord(value, resultKey(taskId))
      if (record.executor === from) this.resultStore.accept(record, value)
    } catch {
      // a bad record changes nothing; the completion itself is judged by its epoch
    }
  }

  private onRelease(from: string, req: ReleaseRequest): ReleaseReply {
    const released: string[] = []
    for (const { taskId, epoch } of req.leases) {
      if (!this.leases.release(taskId, from, epoch)) continue
      this.requeueOwned(taskId)
      released.push(taskId)
    }
    return { type: 'released', requestId: req.requestId, released }
  }

  private requeueOwned(taskId: string): void {
    const own = this.owned.get(taskId)
    if (own === undefined) return
    own.state = 'queued'
    this.enqueue(own.entry.task, true)
    this.schedulePump()
  }

  private expireLeases(): void {
    for (const lease of this.leases.expire(Date.now())) {
      this.counters.leasesExpired++
      this.requeueOwned(lease.taskId)
    }
  }

  // ---------------------------------------------------------------- gossip

  private onAnnouncement(_from: string, msg: Announcement): void {
    for (const task of msg.tasks) {
      if (this.resultStore.cached(task.id) !== undefined) continue
      this.announced.set(task.id, task)
      if (this.announced.size > DEFAULT_ANNOUNCED_MEMORY) {
        const oldest = this.announced.keys().next().value
        if (oldest !== undefined) this.announced.delete(oldest)
      }
    }
  }

  private onBeacon(from: string, msg: Beacon): void {
    if (from === this.peerId) return
    if (!this.peers.update(from, msg, Date.now())) return
    for (const waiter of this.peerWaiters) waiter()
    if (msg.queued > 0) this.emptyVictims.delete(from)
    if (msg.queued > 0 && this.queue.size < this.runner.freeSlots + this.opts.slots) void this.maybeSteal()
  }

  /**
   * A peer stored results. Owners treat a notice from the lease holder as its completion (in
   * case the completion itself is lost); a node where someone waits for one of the tasks fetches
   * the record from the executor (or, failing that, from the DHT).
   */
  private onResultNotice(from: string, msg: ResultNotice): void {
    for (const { taskId, epoch } of msg.results) {
      this.announced.delete(taskId)
      const own = this.owned.get(taskId)
      if (own?.state === 'leased' && this.leases.get(taskId)?.holder === from) {
        if (this.leases.complete(taskId, epoch) === 'accepted') this.owned.delete(taskId)
      }
      if (this.resultStore.isAwaited(taskId) && this.resultStore.cached(taskId) === undefined) {
        void this.fetchResult(from, taskId)
      }
    }
  }

  private async fetchResult(executor: string, taskId: string): Promise<void> {
    try {
      const value = await requestResultFrom(this.libp2p, executor, taskId)
      if (value !== undefined) {
        this.resultStore.accept(await openResultRecord(value, resultKey(taskId)), value)
        return
      }
    } catch {
      // the executor is gone or refused: the DHT has the record
    }
    await this.resultStore.get(taskId).catch(() => undefined)
  }

  // ---------------------------------------------------------------- beacons & status

  private beacon(): Beacon {
    const queuedWorkMs = this.myQueuedWorkMs(true)
    return {
      v: 1,
      seq: ++this.beaconSeq,
      slots: this.opts.slots,
      running: this.runner.runningCount,
      queued: this.queue.stealableCount,
      queuedWorkMs,
      speed: this.opts.speed,
      types: this.offer.types,
      labels: this.offer.labels,
      memoryMb: this.offer.memoryMb,
      expectedWaitMs: expectedWaitMs({ queuedWorkMs, slots: this.opts.slots, speed: this.opts.speed }),
      sentAt: Date.now(),
    }
  }

  private sendBeacon(): void {
    if (this.state !== 'running' && this.state !== 'new') return
    this.lastBeaconAt = Date.now()
    this.lastBeaconQueued = this.queue.stealableCount
    if (this.beaconTimer !== undefined) {
      clearTimeout(this.beaconTimer)
      this.beaconTimer = undefined
    }
    void this.gossip.publishBeacon(this.beacon())
  }

  /**
   * Sends a beacon now, or as soon as the minimum gap allows, when the stealable queue changed
   * enough to matter to thieves: it emptied, it filled, or it moved by a quarter (and a node's
   * worth of slots) since the last beacon. Smaller changes wait for the periodic beacon.
   */
  private beaconSoon(): void {
    if (this.beaconTimer !== undefined) return
    const now = this.queue.stealableCount
    const last = this.lastBeaconQueued
    const flipped = (now === 0) !== (last === 0)
    const moved = Math.abs(now - last) >= Math.max(this.opts.slots, 0.25 * last)
    if (!flipped && !moved) return
    const wait = this.lastBeaconAt + MIN_BEACON_GAP_MS - Date.now()
    this.beaconTimer = setTimeout(() => this.sendBeacon(), Math.max(0, wait))
    this.beaconTimer.unref()
  }

  /** A snapshot of this node and the peers it hears from. */
  status(): NodeStatus {
    const now = Date.now()
    const queuedWorkMs = this.myQueuedWorkMs(false)
    return {
      peerId: this.peerId,
      addresses: this.multiaddrs,
      slots: this.opts.slots,
      running: this.runner.runningCount,
      queued: this.queue.size,
      stealable: this.queue.stealableCount,
      leasedOut: this.leases.size,
      leasedIn: this.leasedIn.size,
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
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.peers.size < count) return
        this.peerWaiters.delete(check)
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = () => {
        this.peerWaiters.delete(check)
        reject(new Error(`heard ${this.peers.size} of ${count} peers before the deadline`))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.peerWaiters.add(check)
      check()
    })
  }

  /** Peers whose capacity beacons this node has heard. */
  knownPeers(): string[] {
    return this.peers.list().map((p) => p.peerId)
  }

  /** Tasks this node owns that have no result yet. */
  get ownedCount(): number {
    return this.owned.size
  }

  /** Stops the node: leased-in work that has not started goes back to its owners. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return
    this.state = 'stopping'
    for (const t of this.timers) clearInterval(t)
    if (this.beaconTimer !== undefined) clearTimeout(this.beaconTimer)
    await this.releaseUnstarted()
    this.runner.cancelAll('node stopping')
    this.notices.flushNow()
    for (const batch of this.pendingCompletions.values()) batch.flushNow()
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

  private async releaseUnstarted(): Promise<void> {
    const byOwner = new Map<string, Array<{ taskId: string; epoch: number }>>()
    for (const [taskId, held] of this.leasedIn) {
      if (this.runner.isRunning(taskId)) continue
      const list = byOwner.get(held.owner) ?? []
      list.push({ taskId, epoch: held.entry.epoch })
      byOwner.set(held.owner, list)
    }
    await Promise.all(
      [...byOwner].map(([owner, leases]) =>
        this.steal
          .request(
            owner,
            { type: 'release', requestId: crypto.randomUUID(), leases },
            AbortSignal.timeout(1_000),
          )
          .catch(() => undefined),
      ),
    )
  }
}

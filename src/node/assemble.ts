import type { PrivateKey } from '@libp2p/interface'
import type { Executor } from '../executor/executor.ts'
import type { HandlerRegistry } from '../executor/handler-registry.ts'
import { silentLogger } from '../log/logger.ts'
import { PerKeyThrottle } from '../log/per-key-throttle.ts'
import { logTaskEvents } from '../log/task-log.ts'
import { canRun, DurationEstimator } from '../policy/capacity.ts'
import type { NodeOffer } from '../policy/types.ts'
import { InvalidMessageError } from '../protocol/errors.ts'
import type { ReleaseRequest } from '../protocol/messages/messages.ts'
import { GrantSigner } from '../protocol/records/grant-proof.ts'
import { taskIdFromResultKey } from '../protocol/records/result-record-schema.ts'
import type { VerifiedRoots } from '../protocol/records/verified-roots.ts'
import { monotonicNow } from '../util/clock.ts'
import type { Accounting } from './accounting/accounting.ts'
import { wireMesh } from './assemble-mesh.ts'
import { createNodeCounters, type NodeCounters } from './node-counters.ts'
import { DEFAULT_PEER_STALE_MS, type ResolvedNodeOptions } from './options.ts'
import { Intake } from './owner/intake.ts'
import type { TaskJournal } from './owner/journal.ts'
import { OfferDesk } from './owner/offer-desk.ts'
import { OwnerLedger, type Poisoned } from './owner/owner-ledger.ts'
import { UnschedulableWatch } from './owner/unschedulable.ts'
import { ownerFilter } from './peers/allowed-owners.ts'
import type { DenyList } from './peers/deny-list.ts'
import { warnInboundFailures } from './peers/inbound-failures.ts'
import { reachable } from './peers/peer-addresses.ts'
import { PeerView } from './peers/peer-view.ts'
import { recordFetch } from './results/record-fetch.ts'
import type { RecordReplicator } from './results/record-replicator.ts'
import { DEFAULT_SIGN_BATCH, DEFAULT_SIGN_WINDOW_MS, RecordSigner } from './results/record-signer.ts'
import { ResultFollower } from './results/result-follower.ts'
import { ownerFailureRecord, RECONTEST_MARGIN_MS, ResultPublisher } from './results/result-publisher.ts'
import { ResultStore } from './results/result-store.ts'
import { warnLingeringRuns } from './run/lingering-warning.ts'
import { LocalQueue } from './run/local-queue.ts'
import { RunLoop } from './run/run-loop.ts'
import { TaskRunner } from './run/task-runner.ts'
import { StoryLog } from './story/story.ts'
import { TaskEvents } from './story/task-events.ts'
import { LimitWatch } from './telemetry/limit-watch.ts'
import { NodeMetrics } from './telemetry/node-metrics.ts'
import { CompletionReporter } from './thief/completion-reporter.ts'
import { DependencyLoader } from './thief/dependency-loader.ts'
import { Thief } from './thief/thief.ts'
import { SettledLog } from './watch/settled-log.ts'
import { MeshGossip, RemoteWaits } from './wire/gossip.ts'
import type { MeshLibp2p } from './wire/libp2p-factory.ts'
import { StealService } from './wire/steal-service.ts'
import { type StreamLimits, streamLimits } from './wire/stream-limits.ts'
import { WorkTags } from './wire/work-tags.ts'

/** Where a node is in its life: parts act only while it runs. */
export interface Lifecycle {
  /**
   * `draining`: stopping gracefully — no submission, steal or new run is taken, the runs under way
   * finish and are published, thieves may still take the queued tasks.
   */
  state: 'new' | 'running' | 'draining' | 'stopping' | 'stopped'
}

/** What a node is built from. */
export interface NodeInputs {
  libp2p: MeshLibp2p
  registry: HandlerRegistry
  executor: Pick<Executor, 'run'> & Partial<Pick<Executor, 'lingering'>>
  opts: ResolvedNodeOptions
  privateKey: PrivateKey
  replicator: RecordReplicator
  roots: VerifiedRoots
  journal: TaskJournal | undefined
  /** The peers the node refuses (see `DenyList`). */
  denied: DenyList
  lifecycle: Lifecycle
  /** Counts what the node's work costs it (signatures and gossip here; the rest where it was created). */
  accounting: Accounting
  /** What opening the data dir found damaged: logged as warnings. */
  startWarnings?: string[]
}

/** Every part of a node, wired. */
export type NodeParts = ReturnType<typeof assembleNode>

/**
 * Builds a node's parts in dependency order — each part gets the parts it uses, already built;
 * where two parts must hear each other, the later one subscribes to the earlier one (queue
 * changes, ended attempts, task events) or is handed in by a named call (`serveWith`, `listen`),
 * so the object graph has no hidden loops. The parts that keep the node in the mesh — beacons,
 * liveness, custody, notices — are wired in `assemble-mesh.ts`.
 */
export function assembleNode(inputs: NodeInputs) {
  const { libp2p, registry, opts, lifecycle, privateKey, roots, accounting } = inputs
  const { unsent } = inputs.replicator
  const self = libp2p.peerId.toString()
  const isRunning = () => lifecycle.state === 'running'
  /** Ended attempts still count (their results are published) until the node stops for good. */
  const isLive = () => lifecycle.state === 'running' || lifecycle.state === 'draining'
  const counters: NodeCounters = createNodeCounters()
  const events = new TaskEvents()
  const stories = new StoryLog()
  stories.listen(events)
  const log = (opts.logger ?? silentLogger()).child({ peerId: self })
  if (opts.logger !== undefined) logTaskEvents(log, events)
  for (const warning of inputs.startWarnings ?? []) log.warn(warning)
  warnInboundFailures(accounting.metrics, log, opts.swarmKey !== undefined)
  if (inputs.executor.lingering !== undefined) warnLingeringRuns(inputs.executor.lingering, log)
  const metrics = new NodeMetrics()
  metrics.listen(events)
  const settledLog = new SettledLog()
  settledLog.listen(events)
  const { slots, speed, random } = opts
  const offer: NodeOffer = { types: registry.types(), labels: opts.labels, slots, memoryMb: opts.memoryMb }
  const estimator = new DurationEstimator()
  const peers = new PeerView(self)
  const limits: StreamLimits = streamLimits(opts)
  // a peer's malformed frame is worth a warning (a bug or an attack): one a second per peer, saying
  // how many were held back (those go to debug, with silent or reset streams); keyed by peer id,
  // and by `record-write` for the result store's failed writes below
  const oncePerSecond = new PerKeyThrottle()
  limits.onAborted = (protocol, from, err) => {
    const fields = { protocol, from, error: err.message }
    const pass = err instanceof InvalidMessageError ? oncePerSecond.pass(from, monotonicNow()) : undefined
    if (pass === undefined) log.debug(fields, 'inbound stream aborted')
    else log.warn({ ...fields, heldBack: pass.held }, 'inbound stream aborted')
  }
  const limitWatch = new LimitWatch(log, metrics, () => limits.budget.evictions)
  const tags = new WorkTags(libp2p)
  // with an allow-list, unlisted owners' tasks are never stolen, guarded or adopted, nor ours leased to them
  const admits = ownerFilter(self, opts.allowSubmitters)

  const results = new ResultStore({
    ...{ dht: libp2p.services.dht, alone: () => libp2p.getConnections().length === 0 },
    replicator: inputs.replicator,
    signer: new RecordSigner(
      privateKey,
      DEFAULT_SIGN_BATCH,
      accounting.signatures,
      {
        ms: DEFAULT_SIGN_WINDOW_MS,
        // the runner is made below; records are signed only once the node runs
        more: (): boolean => runner.runningCount > 0,
      },
      roots,
    ),
    roots,
    unsent,
    // a full or failing disk: said once a second, with how many more failed meanwhile
    onError: (err, taskId) => {
      const pass = oncePerSecond.pass('record-write', monotonicNow())
      if (pass !== undefined)
        log.error({ taskId, error: err.message, heldBack: pass.held }, 'result record not stored')
    },
  })
  // a copy refused because a peer holds a winning record: read that one, so this node serves it too
  inputs.replicator.onSuperseded = (key) => {
    const taskId = taskIdFromResultKey(key)
    if (taskId !== undefined) results.refresh(taskId)
  }
  // a dead contact is not one a lookup must have asked (its liveness is the mesh's, wired below)
  const fetch = recordFetch(libp2p, results, { limits, isDead: (p) => mesh.parts.liveness.isDead(p) })
  const loader = new DependencyLoader({
    executor: inputs.executor,
    results,
    fetchFrom: (peer, id) => fetch.valueAt(peer, id),
    self,
  })
  const runner = new TaskRunner({ executor: loader, slots, self, speed })
  const queue = new LocalQueue({
    policy: opts.queuePolicy,
    stealOrder: opts.stealOrder,
    estimator,
    canRunHere: (t) => canRun(offer, t),
    runningWorkMs: () => runner.remainingWorkMs(Date.now(), (type) => estimator.estimate(type)),
  })
  const ledger = new OwnerLedger({
    ...{ self, queue, results, counters, events, slots, speed, offer, leasesTo: admits },
    leaseTtlMs: opts.leaseTtlMs,
    journal: inputs.journal,
    maxExecutorLosses: opts.maxExecutorLosses,
    grants: new GrantSigner(privateKey, accounting.signatures, roots),
    onSettled: (task, by) => settledLog.add(task, by),
  })
  const steal = new StealService(libp2p, { limits, tags })
  const thief = new Thief({
    ...{ steal, queue, runner, peers, offer, slots, speed, random, counters, events },
    isRunning,
    owns: (id) => ledger.has(id),
    admits,
    reach: (peer) => reachable(libp2p, peer, peers.addrsOf(peer)),
    onStealReply: (ms) => metrics.stealRoundTrip(ms),
    onLease: (owner, id, epoch, proof) => roots.addGrant(owner, id, self, epoch, proof),
  })
  const follower = new ResultFollower({
    self,
    results,
    fetch: (executor, taskId) => fetch.valueAt(executor, taskId),
    inProgress: (taskId) => ledger.has(taskId) || thief.holds(taskId),
    relay: (record) => publisher.relay(record), // the publisher is made below; relays come later
    random,
  })
  const completions = new CompletionReporter({
    ...{ steal, counters, random, events },
    isStopped: () => lifecycle.state === 'stopped',
    onStale: (id, owner) => void follower.follow(owner, id), // the owner holds the accepted record
  })
  const gossip = new MeshGossip(
    libp2p,
    accounting.topics,
    (from, topic, err) =>
      log.warn({ from, topic, error: err.message }, 'gossip message rejected: its sender is graylisted'),
    (peer) => inputs.denied.has(peer),
  )
  const publisher = new ResultPublisher({
    ...{ results, ledger, thief, follower, events, completions },
    notify: (batch) => gossip.publishNotices(batch),
    contested: (taskId) => ledger.takenOver(taskId),
    unsent,
  })
  /** Ends tasks that lost too many executors as failed, signed by this node as their owner. */
  const publishPoisoned = (poisoned: Poisoned[]) => {
    for (const p of poisoned)
      void publisher.publish(ownerFailureRecord(p.entry, self, p.error, p.entry.epoch))
  }
  const mesh = wireMesh({
    ...{ libp2p, opts, lifecycle, self, offer, peers, ledger, thief, results, events, follower, tags },
    ...{ queue, runner, limits, admits, publishPoisoned, log, fetch },
    steal: { request: steal.request.bind(steal) },
    unsent: unsent && { load: () => unsent.load(), resend: (ids) => void publisher.resend(ids) },
    journal: inputs.journal,
  })
  // a peer back from the dead (a network cut, a frozen process) missed the contested notices of
  // its absence: without them, its reads and ours would never converge on the selector's record
  mesh.parts.liveness.onBack((_, lastHeardAt) => publisher.recontest(lastHeardAt - RECONTEST_MARGIN_MS))
  const takeBack = (from: string, req: ReleaseRequest) => {
    const { reply, retries, failed } = ledger.release(from, req)
    for (const entry of retries) runLoop.retryOwned(entry)
    publishPoisoned(failed)
    return reply
  }
  const offers = new OfferDesk({
    ...{ peers, queue, admits, counters },
    takesOffers: (peer) => steal.takesOffers(peer),
    leasedSince: (peer, since) => ledger.leasedSince(peer, since),
    grant: (peer, req, transferCostMs) => ledger.grant(peer, req, { transferCostMs }),
    send: (peer, req) => steal.request(peer, req),
    takeBack: (peer, leases) => takeBack(peer, { type: 'release', requestId: crypto.randomUUID(), leases }),
    // a beacon overdue by half an interval: the peer may be frozen or gone (a lease it cannot run)
    staleAfterMs: Math.min(DEFAULT_PEER_STALE_MS, 1.5 * opts.beaconIntervalMs),
  })
  const runLoop = new RunLoop({
    ...{ self, offer, speed, queue, runner, ledger, thief, publisher, estimator, counters, events },
    beacons: mesh.beacons,
    offers,
    ...{ backoff: opts.backoff, random, isRunning, isLive },
  })
  steal.serveWith({
    onSteal: (from, req) => ledger.grant(from, req),
    onRenew: (from, req) => ledger.renew(from, req),
    onComplete: (from, req) => ledger.complete(from, req),
    onRelease: takeBack,
    onOffer: (from, req) => thief.takeOffer(from, req),
  })
  const intake = new Intake({
    ...{ self, ledger, queue, results, publisher, events, random },
    state: () => lifecycle.state,
    maxQueueLength: opts.maxQueueLength,
    knowsType: (type) => registry.has(type) || peers.offersType(type),
    knownTypes: () => [...new Set([...registry.types(), ...peers.offeredTypes()])].sort(),
    checkInput: (type, input) => registry.get(type)?.checkInput?.(input),
  })
  const unschedulable = new UnschedulableWatch({
    ...{ self, offer, queue, peers },
    afterMs: opts.unschedulableAfterMs,
    staleAfterMs: DEFAULT_PEER_STALE_MS,
    onChange: (id, flagged, reasons) =>
      events.emit(
        id,
        flagged ? 'unschedulable' : 'schedulable',
        flagged ? { reasons: reasons.join('; ') } : {},
      ),
  })
  const control = mesh.control({ intake, publisher, unschedulable })
  gossip.listen({
    onResultNotice: (from, msg, contested) => {
      mesh.parts.inbox.onResultNotice(from, msg)
      mesh.parts.superseded.onResultNotice(from, msg) // a held run a later record beats ends
      follower.onResultNotice(from, msg, contested)
    },
  })
  return {
    ...{ self, offer, counters, events, stories, estimator, peers, limits, results, runner, queue, ledger },
    ...{ steal, thief, follower, completions, gossip, publisher, runLoop, intake, unschedulable, control },
    ...{ publishPoisoned, accounting, remoteWaits: new RemoteWaits(gossip), log, metrics, limitWatch },
    settledLog,
    denied: inputs.denied,
    /** True when the task's result is known here (it needs no custodian). */
    ended: (taskId: string) => results.cached(taskId) !== undefined,
    ...mesh.parts,
  }
}

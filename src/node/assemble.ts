import type { PrivateKey } from '@libp2p/interface'
import type { Executor } from '../executor/executor.ts'
import type { HandlerRegistry } from '../executor/handler-registry.ts'
import { canRun, DurationEstimator } from '../policy/capacity.ts'
import type { NodeOffer } from '../policy/types.ts'
import { GrantSigner } from '../protocol/grant-proof.ts'
import type { VerifiedRoots } from '../protocol/verified-roots.ts'
import type { Accounting } from './accounting/accounting.ts'
import { createNodeCounters, type NodeCounters } from './node-counters.ts'
import { DEFAULT_PEER_STALE_MS, type ResolvedNodeOptions } from './options.ts'
import { TaskControl } from './owner/cancellation.ts'
import { Intake } from './owner/intake.ts'
import type { TaskJournal } from './owner/journal.ts'
import { OwnerLedger, type Poisoned } from './owner/owner-ledger.ts'
import { UnschedulableWatch } from './owner/unschedulable.ts'
import { ownerFilter } from './peers/allowed-owners.ts'
import { BeaconPublisher } from './peers/beacons.ts'
import { BootstrapKeeper } from './peers/bootstrap-keeper.ts'
import { LivenessWatch } from './peers/liveness-watch.ts'
import { PeerView } from './peers/peer-view.ts'
import { Adopter } from './recovery/adoption.ts'
import { JournalReplay } from './recovery/journal-replay.ts'
import type { RecordReplicator } from './results/record-replicator.ts'
import { DEFAULT_SIGN_BATCH, RecordSigner } from './results/record-signer.ts'
import { ResultFollower } from './results/result-follower.ts'
import { ownerFailureRecord, ResultPublisher } from './results/result-publisher.ts'
import { ResultStore } from './results/result-store.ts'
import { LocalQueue } from './run/local-queue.ts'
import { RunLoop } from './run/run-loop.ts'
import { TaskRunner } from './run/task-runner.ts'
import { StoryLog } from './story/story.ts'
import { TaskEvents } from './story/task-events.ts'
import { CompletionReporter } from './thief/completion-reporter.ts'
import { DependencyLoader } from './thief/dependency-loader.ts'
import { Thief } from './thief/thief.ts'
import { MeshGossip } from './wire/gossip.ts'
import { GossipInbox } from './wire/gossip-inbox.ts'
import type { MeshLibp2p } from './wire/libp2p-factory.ts'
import { StealService } from './wire/steal-service.ts'
import { type StreamLimits, streamLimits } from './wire/stream-limits.ts'
import { requestCancelFrom, requestResultFrom, requestStateFrom } from './wire/submit-service.ts'

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
  executor: Pick<Executor, 'run'>
  opts: ResolvedNodeOptions
  privateKey: PrivateKey
  replicator: RecordReplicator
  roots: VerifiedRoots
  journal: TaskJournal | undefined
  lifecycle: Lifecycle
  /** Counts what the node's work costs it (signatures and gossip here; the rest where it was created). */
  accounting: Accounting
}

/** Every part of a node, wired. */
export type NodeParts = ReturnType<typeof assembleNode>

/**
 * Builds a node's parts in dependency order — each part gets the parts it uses, already built;
 * where two parts must hear each other, the later one subscribes to the earlier one (queue
 * changes, ended attempts, task events), so the object graph has no hidden loops.
 */
export function assembleNode(inputs: NodeInputs) {
  const { libp2p, registry, opts, lifecycle, privateKey, roots, accounting } = inputs
  const self = libp2p.peerId.toString()
  const isRunning = () => lifecycle.state === 'running'
  /** Ended attempts still count (their results are published) until the node stops for good. */
  const isLive = () => lifecycle.state === 'running' || lifecycle.state === 'draining'
  const counters: NodeCounters = createNodeCounters()
  const events = new TaskEvents()
  const stories = new StoryLog()
  stories.listen(events)
  const { slots, speed, random } = opts
  const offer: NodeOffer = { types: registry.types(), labels: opts.labels, slots, memoryMb: opts.memoryMb }
  const estimator = new DurationEstimator()
  const peers = new PeerView()
  const limits: StreamLimits = streamLimits(opts)
  // with an allow-list, the tasks of unlisted owners are never stolen, remembered or adopted
  const admits = ownerFilter(self, opts.allowSubmitters)

  const results = new ResultStore({
    dht: libp2p.services.dht,
    replicator: inputs.replicator,
    signer: new RecordSigner(privateKey, DEFAULT_SIGN_BATCH, accounting.signatures),
    roots,
  })
  const loader = new DependencyLoader({
    executor: inputs.executor,
    results,
    fetchFrom: (peer, id, signal) => requestResultFrom(libp2p, peer, id, signal),
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
    self,
    queue,
    results,
    counters,
    events,
    leaseTtlMs: opts.leaseTtlMs,
    slots,
    speed,
    journal: inputs.journal,
    maxExecutorLosses: opts.maxExecutorLosses,
    grants: new GrantSigner(privateKey, accounting.signatures),
  })
  const steal = new StealService(
    libp2p,
    {
      onSteal: (from, req) => ledger.grant(from, req),
      onRenew: (from, req) => ledger.renew(from, req),
      onComplete: (from, req) => ledger.complete(from, req),
      onRelease: (from, req) => {
        const { reply, retries, failed } = ledger.release(from, req)
        for (const entry of retries) runLoop.retryOwned(entry)
        publishPoisoned(failed)
        return reply
      },
    },
    limits,
  )
  const thief = new Thief({
    ...{ steal, queue, runner, peers, offer, slots, speed, random, counters, events },
    isRunning,
    owns: (id) => ledger.has(id),
    admits,
  })
  const follower = new ResultFollower({
    self,
    results,
    fetch: (executor, taskId) => requestResultFrom(libp2p, executor, taskId),
    inProgress: (taskId) => ledger.has(taskId) || thief.holds(taskId),
  })
  const completions = new CompletionReporter({
    steal,
    counters,
    random,
    isStopped: () => lifecycle.state === 'stopped',
    onStale: (id, owner) => void follower.follow(owner, id), // the owner holds the accepted record
  })
  const gossip = new MeshGossip(libp2p, accounting.topics)
  const publisher = new ResultPublisher({
    ...{ results, ledger, thief, completions, follower, events },
    notify: (batch) => gossip.publishNotices(batch),
  })
  const beacons = new BeaconPublisher({
    gossip,
    queue,
    runner,
    offer,
    slots,
    speed,
    intervalMs: opts.beaconIntervalMs,
  })
  const runLoop = new RunLoop({
    ...{ self, offer, speed, queue, runner, ledger, thief, publisher, beacons, estimator, counters, events },
    ...{ backoff: opts.backoff, random, isRunning, isLive },
  })
  const intake = new Intake({
    ...{ self, ledger, queue, results, publisher, events, random },
    state: () => lifecycle.state,
    maxQueueLength: opts.maxQueueLength,
    knowsType: (type) => registry.has(type) || peers.offersType(type),
  })
  const inbox = new GossipInbox({
    ...{ self, libp2p, peers, results, admits },
    onPeerBeacon: (from, msg) => thief.onPeerBeacon(from, msg.queued),
    onResultStored: (from, id, epoch) => ledger.noteResult(from, id, epoch),
    expectsCompletion: (from, id, epoch) => ledger.holdsLease(from, id, epoch),
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
  const control = new TaskControl({
    ...{ self, ledger, runner, thief, results, unschedulable, events, publisher },
    gate: {
      has: (id) => intake.gate.has(id),
      missing: (id) => intake.gate.missing(id),
      cancel: (id) => intake.cancelWaiting(id),
    },
    announcedOwner: (id) => inbox.announcedTask(id)?.owner,
    forwardCancel: (owner, id) => requestCancelFrom(libp2p, owner, id),
    askState: (owner, id) => requestStateFrom(libp2p, owner, id),
  })
  /** Ends tasks that lost too many executors as failed, signed by this node as their owner. */
  const publishPoisoned = (poisoned: Poisoned[]) => {
    for (const p of poisoned)
      void publisher.publish(ownerFailureRecord(p.entry, self, p.error, p.entry.epoch))
  }
  const liveness = new LivenessWatch({
    self,
    libp2p,
    failureDetectionMs: opts.failureDetectionMs,
    beaconIntervalMs: opts.beaconIntervalMs,
    onDead: (peer) => {
      publishPoisoned(ledger.loseHolder(peer).poisoned)
      peers.remove(peer)
    },
    onCheck: (changed) => adopter.onCheck(changed),
  })
  const announce = async (tasks: Parameters<MeshGossip['announceTasks']>[0]) => {
    await gossip.announceTasks(tasks)
    for (const t of tasks) events.emit(t.id, 'announced')
  }
  const adopter = new Adopter({
    ...{ self, liveness, ledger, thief, results, announce },
    own: (task, how) => ledger.take(task, how),
    admits,
    failureDetectionMs: opts.failureDetectionMs,
    onAdopted: (tasks, why) => {
      for (const t of tasks) {
        const lookup = why.get(t.id)
        events.emit(t.id, 'adopted', lookup === undefined ? undefined : { lookup })
      }
    },
  })
  const replay = new JournalReplay({
    ...{ self, ledger, results },
    withoutResult: (tasks) => adopter.openOf(tasks),
    requeue: async (tasks) => {
      for (const t of tasks) events.emit(t.id, 'replayed')
      await announce(tasks)
    },
    waitForPeersMs: opts.failureDetectionMs,
  })
  gossip.listen({
    onAnnouncement: (from, msg) => {
      inbox.onAnnouncement(from, msg)
      adopter.onAnnouncement(from, msg)
    },
    onBeacon: (from, msg) => {
      inbox.onBeacon(from, msg)
      if (from === self) return
      liveness.heard(from)
      replay.onPeerHeard()
    },
    onResultNotice: (from, msg) => {
      inbox.onResultNotice(from, msg)
      adopter.onResultNotice(from, msg)
      follower.onResultNotice(from, msg)
    },
  })
  const bootstrapKeeper = new BootstrapKeeper(libp2p, opts.bootstrap ?? [])
  return {
    ...{ self, offer, counters, events, stories, estimator, peers, limits, results, runner, queue, ledger },
    ...{ steal, thief, follower, completions, gossip, publisher, beacons, runLoop, intake, inbox },
    ...{ unschedulable, control, liveness, adopter, replay, bootstrapKeeper, announce, publishPoisoned },
    accounting,
  }
}

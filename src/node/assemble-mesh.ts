import type { IdentifyResult, PeerId, PeerUpdate } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from '../log/logger.ts'
import type { NodeOffer } from '../policy/types.ts'
import { CUSTODY_PROTOCOL } from '../protocol/constants.ts'
import type { Task } from '../task/task.ts'
import { monotonicNow } from '../util/clock.ts'
import { debounce } from '../util/debounce.ts'
import type { Lifecycle } from './assemble.ts'
import { assembleControl } from './assemble-control.ts'
import { custodyQuery, wireCustodian } from './assemble-custodian.ts'
import { DEFAULT_PEER_STALE_MS, type ResolvedNodeOptions } from './options.ts'
import { CustodyKeeper } from './owner/custody-keeper.ts'
import type { Intake } from './owner/intake.ts'
import type { OwnerLedger, Poisoned } from './owner/owner-ledger.ts'
import type { UnschedulableWatch } from './owner/unschedulable.ts'
import { BeaconPublisher } from './peers/beacons.ts'
import { BootstrapKeeper } from './peers/bootstrap-keeper.ts'
import { ConnectionTrimmer } from './peers/connection-trimmer.ts'
import { LivenessWatch } from './peers/liveness-watch.ts'
import { PeerAddresses } from './peers/peer-addresses.ts'
import type { PeerView } from './peers/peer-view.ts'
import { JournalReplay, type JournalReplayOptions } from './recovery/journal-replay.ts'
import { takenElsewhere } from './recovery/taken-elsewhere.ts'
import { ClosestPeers } from './results/closest-peers.ts'
import type { RecordFetch } from './results/record-fetch.ts'
import type { ResultFollower } from './results/result-follower.ts'
import type { ResultPublisher } from './results/result-publisher.ts'
import type { ResultStore } from './results/result-store.ts'
import type { LocalQueue } from './run/local-queue.ts'
import type { TaskRunner } from './run/task-runner.ts'
import type { TaskEvents } from './story/task-events.ts'
import { SupersededRuns } from './thief/superseded-runs.ts'
import type { Thief } from './thief/thief.ts'
import { BeaconService } from './wire/beacon-service.ts'
import { CustodyService } from './wire/custody-service.ts'
import type { MeshLibp2p } from './wire/libp2p-factory.ts'
import { NoticeInbox } from './wire/notice-inbox.ts'
import { ownerRequests } from './wire/owner-requests.ts'
import type { StealService } from './wire/steal-service.ts'
import type { StreamLimits } from './wire/stream-limits.ts'
import type { WorkTags } from './wire/work-tags.ts'

/** A probe of a peer whose connection dropped waits this long for a dial to succeed, ms. */
export const PROBE_TIMEOUT_MS = 1_000
/** How long a submission waits for its custodians' acknowledgement at most, ms (custody goes on after). */
export const CUSTODY_WAIT_MS = 2_000
/** A beacon stream silent this long (several beacon intervals) is closed, ms. */
const BEACON_IDLE_MS = 30_000

/** The parts `wireMesh` works with (built by `assembleNode`). */
export interface MeshInputs {
  libp2p: MeshLibp2p
  opts: ResolvedNodeOptions
  lifecycle: Lifecycle
  self: string
  offer: NodeOffer
  peers: PeerView
  ledger: OwnerLedger
  thief: Thief
  results: ResultStore
  events: TaskEvents
  follower: ResultFollower
  tags: WorkTags
  queue: LocalQueue
  runner: TaskRunner
  limits: StreamLimits
  steal: Pick<StealService, 'request'>
  admits(owner: string): boolean
  publishPoisoned(poisoned: Poisoned[]): void
  /** The fetch protocol (batch lookups; served from the records stored here). */
  fetch: RecordFetch
  /** Records an earlier life made and may not have sent: sent again once a peer is heard. */
  unsent: JournalReplayOptions['unsent']
  /** The journal replayed at start (with a data dir): what it skipped or cut is logged. */
  journal: JournalReplayOptions['journal']
  /** The node's logger (its peer id bound). */
  log: Logger
}

/**
 * Wires what keeps a node in the mesh at a cost that does not grow with the mesh: beacons pushed to
 * neighbours (with a hot list of loaded peers), liveness from beacons and from probes of dropped
 * connections, custody of owned tasks at a few custodians (and adoption of a dead owner's tasks by
 * them), result notices (all of them only while someone here waits for a remote task; contested
 * ones always), journal replay and bootstrap redials.
 */
export function wireMesh(m: MeshInputs) {
  const { libp2p, opts, self, peers, ledger, thief, results, events } = m
  let intake: Intake | undefined
  /** How tasks come into ownership (see `control`): through the dependency gate when they have dependencies. */
  const owner = (): Intake => intake ?? fail('the intake is not wired yet')
  const addresses = new PeerAddresses(libp2p)
  const custody = new CustodyService(libp2p, { limits: m.limits, tags: m.tags })
  const closest = new ClosestPeers(libp2p, CUSTODY_PROTOCOL)
  const selfKey = libp2p.peerId.toMultihash().bytes
  const keeper = new CustodyKeeper({
    custody,
    candidates: async (n) => (await closest.of(selfKey, n)).map((p) => p.toString()),
    addrsOf: (peer) => addresses.of(peer),
    // every task owned here without a result: queued or leased, and waiting for its dependencies
    openTasks: () => [...ledger.tasks(), ...owner().gate.tasks()],
    isOpen: (id) => ledger.has(id) || owner().gate.has(id),
    count: opts.custodians,
    // a key made at this start had no earlier life for a custodian to forget
    firstLife: opts.privateKey === undefined && opts.dataDir === undefined,
  })
  /** Hands tasks this node took to its custodians; waits for an acknowledgement a little while at most. */
  const hold = async (tasks: Task[]): Promise<void> => {
    const held = keeper.hold(tasks)
    await Promise.race([held, new Promise((resolve) => setTimeout(resolve, CUSTODY_WAIT_MS).unref())])
    for (const t of tasks) events.emit(t.id, 'announced', { custodians: keeper.current.length })
  }
  events.on((e) => {
    // a waiting task ends in the gate (failed, or cancelled) without being settled in the ledger
    if (e.event === 'settled' || e.event === 'dependency-failed' || e.event === 'cancelled')
      keeper.drop([e.taskId])
  })
  const liveness = new LivenessWatch({
    self,
    libp2p,
    ...{ failureDetectionMs: opts.failureDetectionMs, beaconIntervalMs: opts.beaconIntervalMs },
    ...{ random: opts.random, redials: opts.redials },
    onDead: (peer) => {
      m.publishPoisoned(ledger.loseHolder(peer).poisoned)
      peers.remove(peer)
    },
    probe: async (peer) => {
      try {
        await libp2p.dial(peerIdFromString(peer), { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
        return true
      } catch {
        return false
      }
    },
  })
  const { fetch } = m
  results.useBatch(fetch.lookup)
  const custodian = wireCustodian({
    ...{ libp2p, self, liveness, ledger, owner, thief, results, fetch, custody, events, hold },
    admits: m.admits,
    failureDetectionMs: opts.failureDetectionMs,
  })
  /** A peer this node has work with: its dropped connection is probed, and never trimmed. */
  const matters = (peer: string): boolean =>
    ledger.leasesHeldBy(peer) ||
    thief.holdsFrom(peer) ||
    custodian.guards(peer) ||
    keeper.current.includes(peer)
  liveness.watch({
    onCheck: (changed) => {
      custodian.onCheck(changed)
      // a peer whose protocols were not known when it connected may serve custody by now
      if (keeper.short && libp2p.getConnections().length > keeper.current.length) refreshCustody()
    },
    matters,
  })
  /**
   * Whom a restarted owner asks whether they took its tasks over: the peers connected now, then
   * those its peer store knows to serve custody (an adopter it has not met again yet).
   */
  const custodyPeers = async () => {
    const stored = await libp2p.peerStore.all({ filters: [(p) => p.protocols.includes(CUSTODY_PROTOCOL)] })
    const connected = libp2p.getConnections().map((c) => c.remotePeer.toString())
    return [...new Set([...connected, ...stored.map((p) => p.id.toString())])].filter((p) => p !== self)
  }
  const replay = new JournalReplay({
    ...{ self, ledger, results },
    own: (task, how) => owner().own(task, how),
    eachOpen: (tasks, use) => custodian.eachOpen(tasks, use),
    takenElsewhere: async (ids) => takenElsewhere(await custodyPeers(), custodyQuery(custody), self, ids),
    requeue: async (tasks) => {
      for (const t of tasks) events.emit(t.id, 'replayed')
      // a task its node crashed in too often ends as poison instead of crashing it once more
      const poisoned = ledger.poisonLost(tasks)
      m.publishPoisoned(poisoned)
      const ended = new Set(poisoned.map((p) => p.entry.task.id))
      await hold(tasks.filter((t) => !ended.has(t.id)))
    },
    waitForPeersMs: opts.failureDetectionMs,
    unsent: m.unsent,
    journal: m.journal,
    onJournalDamage: (message, damage) => m.log.warn(damage, message),
  })
  const beaconService = new BeaconService({
    libp2p,
    idleMs: BEACON_IDLE_MS,
    onRejected: (from, err, protocol) => m.limits.onAborted?.(protocol, from, err),
    onBeacon: (from, beacon) => {
      if (from === self || !peers.update(from, beacon, monotonicNow())) return
      liveness.heard(from)
      replay.onPeerHeard()
      let queued = beacon.queued
      for (const h of beacon.hot ?? []) queued = Math.max(queued, h.queued)
      thief.onPeerBeacon(from, queued)
    },
  })
  const beacons = new BeaconPublisher({
    ...{ queue: m.queue, runner: m.runner, offer: m.offer, slots: opts.slots, speed: opts.speed },
    intervalMs: opts.beaconIntervalMs,
    send: (beacon) => beaconService.publish(beacon),
    hot: () => peers.hot(monotonicNow(), DEFAULT_PEER_STALE_MS, (peer) => addresses.of(peer)),
  })
  const inbox = new NoticeInbox({
    readFrom: (peer, taskId) => fetch.valueAt(peer, taskId),
    results,
    onResultStored: (from, id, epoch) => ledger.noteResult(from, id, epoch),
    expectsCompletion: (from, id, epoch) => ledger.holdsLease(from, id, epoch),
  })
  const superseded = new SupersededRuns({ self, thief, results, events, liveness, readFrom: fetch.valueAt })
  events.on((e) => {
    const owner = e.detail?.owner
    if (e.event === 'completion-stale' && typeof owner === 'string') inbox.supersededAt(owner, e.taskId)
  })
  const refreshCustody = debounce(() => void keeper.refresh(), 50)
  const onIdentify = (evt: CustomEvent<IdentifyResult>) => {
    if (!evt.detail.protocols.includes(CUSTODY_PROTOCOL)) return
    // a custodian of this node's earlier life may be any peer: each forgets what that life handed it
    // (a node in its first life greets no one)
    void keeper.greet(evt.detail.peerId.toString())
    if (keeper.short) refreshCustody()
  }
  const onUpdate = (evt: CustomEvent<PeerUpdate>) => {
    if (keeper.short && evt.detail.peer.protocols.includes(CUSTODY_PROTOCOL)) refreshCustody()
  }
  const onDisconnect = (evt: CustomEvent<PeerId>) => {
    if (keeper.current.includes(evt.detail.toString())) refreshCustody()
  }
  const bootstrapKeeper = new BootstrapKeeper(libp2p, opts.bootstrap ?? [], m.log)
  const trimmer = new ConnectionTrimmer({ libp2p, limit: opts.maxConnections, protects: matters })
  return {
    beacons,
    /**
     * Cancellation and task state, which forward to the task's owner (asking peers for it if need
     * be). Hands the mesh the node's intake too (it is built later): adoption and replay own through it.
     */
    control: (p: { intake: Intake; publisher: ResultPublisher; unschedulable: UnschedulableWatch }) => {
      intake = p.intake
      return assembleControl({
        ...{ self, ledger, runner: m.runner, thief, results, events, custodian, liveness, ...p },
        ...{ replaying: (id: string) => replay.replaying(id), takeBack: (id: string) => replay.takeBack(id) },
        ...ownerRequests(libp2p, (n) => closest.of(selfKey, n)),
      })
    },
    parts: {
      ...{
        addresses,
        custody,
        keeper,
        custodian,
        liveness,
        replay,
        beaconService,
        beacons,
        inbox,
        superseded,
        bootstrapKeeper,
        trimmer,
      },
      announce: hold,
      /** Registers the mesh protocols (before libp2p starts). */
      async serveMesh(): Promise<void> {
        await custody.start()
        await fetch.start()
        await beaconService.start()
      },
      /** Starts the mesh services (after libp2p). */
      async startMesh(): Promise<void> {
        addresses.start()
        libp2p.addEventListener('peer:identify', onIdentify)
        libp2p.addEventListener('peer:update', onUpdate)
        libp2p.addEventListener('peer:disconnect', onDisconnect)
        bootstrapKeeper.start()
        trimmer.start()
      },
      /** Stops what {@link startMesh} started (before libp2p). */
      async stopMesh(): Promise<void> {
        libp2p.removeEventListener('peer:identify', onIdentify)
        libp2p.removeEventListener('peer:update', onUpdate)
        libp2p.removeEventListener('peer:disconnect', onDisconnect)
        keeper.flushNow()
        bootstrapKeeper.stop()
        trimmer.stop()
        await beaconService.stop()
        await custody.stop()
        await fetch.stop()
        closest.stop()
        addresses.stop()
      },
    },
  }
}

/** Throws `message` (an expression where a value is expected). */
function fail(message: string): never {
  throw new Error(message)
}

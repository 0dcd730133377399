import { expectedWaitMs } from '../policy/capacity.ts'
import type { NodeOffer } from '../policy/types.ts'
import type { InboundBudget } from '../protocol/rpc/inbound-budget.ts'
import { monotonicNow } from '../util/clock.ts'
import type { Accounting, AccountingSnapshot } from './accounting/accounting.ts'
import type { NodeParts } from './assemble.ts'
import type { NodeCounters } from './node-counters.ts'
import type { OwnerLedger } from './owner/owner-ledger.ts'
import type { UnschedulableWatch } from './owner/unschedulable.ts'
import type { ConnectionTrimmer } from './peers/connection-trimmer.ts'
import type { DenyList } from './peers/deny-list.ts'
import type { PeerView } from './peers/peer-view.ts'
import type { LocalQueue } from './run/local-queue.ts'
import type { TaskRunner } from './run/task-runner.ts'
import type { Thief } from './thief/thief.ts'
import type { NoticeTally, SignerTally } from './wire/notice-tally.ts'

/**
 * At most this many unschedulable tasks are listed in a status: a node with 100,000 tasks no one
 * can run would otherwise send all of them, with their reasons, to every status and scrape.
 */
export const UNSCHEDULABLE_LISTED = 100

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
  /** Tasks this node owns that wait for their dependencies (not queued yet). */
  waiting: number
  /**
   * Owned queued tasks no live node can run, with one reason per node considered: the
   * {@link UNSCHEDULABLE_LISTED} flagged longest, oldest first (`GET /tasks?state=unschedulable`
   * pages through all of them).
   */
  unschedulable: Array<{ id: string; reasons: string[]; since: number }>
  /** How many owned queued tasks are flagged unschedulable (listed or not). */
  unschedulableCount: number
  /**
   * Custody: the peers that hold the specs of this node's open tasks (its custodians), and how many
   * tasks of other owners this node guards.
   */
  custody: { custodians: string[]; guarded: number }
  /**
   * Inbound steal and submit requests still being received: their bytes held now, the streams
   * receiving them, and the streams aborted so far to keep within `maxInboundRequestBytes`.
   */
  inbound: { bytes: number; streams: number; evictions: number }
  /**
   * libp2p connections open now, the limit the node brings them back to (`maxConnections`; newcomers
   * are let in beyond it for a while), how many it closed to do so since it started, and how many
   * peers it refuses (`denyPeers`).
   */
  connections: { open: number; limit: number; trimmed: number; denied: number }
  /**
   * Results this node made whose first copy at a peer, or whose notice, has not left it yet: held
   * on its disk alone (counted by a node with a data dir; sent again after a restart).
   */
  unsentResults: number
  /**
   * The peers whose result notices this node accepted the most entries of over the last one to two
   * minutes, most first (at most {@link NOTICE_SIGNERS_LISTED}): who fills the gossip — a member
   * flooding notices of tasks that do not exist shows here, to be denied (`denyPeers`).
   */
  noticeSigners: SignerTally[]
  /** What the node's work cost it since it started: messages, bytes, signatures, datastore and journal calls. */
  accounting: AccountingSnapshot
}

/** What {@link nodeStatus} reads. */
export interface StatusParts {
  self: string
  addresses: string[]
  offer: NodeOffer
  speed: number
  counters: NodeCounters
  queue: Pick<LocalQueue, 'queuedWorkMs' | 'size' | 'stealableCount'>
  runner: Pick<TaskRunner, 'runningCount'>
  ledger: Pick<OwnerLedger, 'leasedOut'>
  thief: Pick<Thief, 'size'>
  peers: Pick<PeerView, 'list'>
  waiting: number
  unschedulable: Pick<UnschedulableWatch, 'list' | 'count'>
  inbound: Pick<InboundBudget, 'usedBytes' | 'streams' | 'evictions'>
  trimmer: Pick<ConnectionTrimmer, 'status'>
  denied: Pick<DenyList, 'size'>
  custodians: readonly string[]
  guarded: number
  noticeSigners: Pick<NoticeTally, 'top'>
  unsentResults: number
  accounting: Pick<Accounting, 'snapshot'>
}

/** Signers of result notices a status lists, at most. */
export const NOTICE_SIGNERS_LISTED = 5

/** A snapshot of a node and the peers it hears from. */
export function nodeStatus(p: StatusParts): NodeStatus {
  const now = monotonicNow() // the clock of the peers' `updatedAt`
  const { slots } = p.offer
  const queuedWorkMs = p.queue.queuedWorkMs(false)
  return {
    peerId: p.self,
    addresses: p.addresses,
    slots,
    running: p.runner.runningCount,
    queued: p.queue.size,
    stealable: p.queue.stealableCount,
    leasedOut: p.ledger.leasedOut,
    leasedIn: p.thief.size,
    expectedWaitMs: expectedWaitMs({ queuedWorkMs, slots, speed: p.speed }),
    types: p.offer.types,
    labels: p.offer.labels,
    peers: p.peers.list().map((peer) => ({
      peerId: peer.peerId,
      slots: peer.slots,
      running: peer.running,
      queued: peer.queued,
      expectedWaitMs: expectedWaitMs(peer),
      types: peer.types,
      labels: peer.labels,
      ageMs: now - peer.updatedAt,
    })),
    counters: { ...p.counters },
    waiting: p.waiting,
    unschedulable: p.unschedulable.list(UNSCHEDULABLE_LISTED),
    unschedulableCount: p.unschedulable.count,
    inbound: { bytes: p.inbound.usedBytes, streams: p.inbound.streams, evictions: p.inbound.evictions },
    connections: { ...p.trimmer.status, denied: p.denied.size },
    custody: { custodians: [...p.custodians], guarded: p.guarded },
    unsentResults: p.unsentResults,
    noticeSigners: p.noticeSigners.top(NOTICE_SIGNERS_LISTED),
    accounting: p.accounting.snapshot(),
  }
}

/** What a node knows of itself beside its parts, for {@link statusOfParts}. */
export interface NodeSelf {
  self: string
  addresses: string[]
  speed: number
  /** Records made here whose copies are not out yet. */
  unsentResults: number
}

/** The status of a node from its parts (what `TaskmeshNode.status` answers). */
export function statusOfParts(p: NodeParts, own: NodeSelf): NodeStatus {
  return nodeStatus({
    ...own,
    ...{ offer: p.offer, counters: p.counters, queue: p.queue, runner: p.runner, ledger: p.ledger },
    ...{ thief: p.thief, peers: p.peers, waiting: p.intake.gate.size, unschedulable: p.unschedulable },
    ...{ inbound: p.limits.budget, custodians: p.keeper.current, guarded: p.custodian.guarded },
    ...{ trimmer: p.trimmer, denied: p.denied, accounting: p.accounting, noticeSigners: p.gossip.signers },
  })
}

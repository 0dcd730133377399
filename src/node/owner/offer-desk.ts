import type { PeerCapacity } from '../../policy/types.ts'
import { MAX_QUEUED_TYPES } from '../../protocol/constants.ts'
import type {
  OfferedReply,
  OfferRequest,
  StealGrant,
  StealRequest,
} from '../../protocol/messages/messages.ts'
import { monotonicNow } from '../../util/clock.ts'
import type { NodeCounters } from '../node-counters.ts'
import type { PeerView } from '../peers/peer-view.ts'
import type { LocalQueue } from '../run/local-queue.ts'
import { StealRefusedError } from '../wire/steal-service.ts'

/** The round trip of an offer assumed until one was answered, ms. */
export const INITIAL_OFFER_RTT_MS = 5

/** A peer that refused an offer whole (an `error` reply) is offered nothing for this long, ms. */
export const REFUSED_PAUSE_MS = 60_000

/** Options of {@link OfferDesk}. */
export interface OfferDeskOptions {
  /** The neighbours' capacity, as their beacons tell. */
  peers: Pick<PeerView, 'eachNeighbour'>
  /** The owner's queue: its stealable part is what may be offered. */
  queue: Pick<LocalQueue, 'stealableCount' | 'stealableTypes'>
  /** True when the peer serves steal 1.1 (it can be offered tasks). */
  takesOffers(peer: string): boolean
  /** True when this node lets the peer run its tasks (the allow-list). @defaultValue every peer */
  admits?(peer: string): boolean
  /** Live leases the peer holds on this node's tasks granted at or after `since` (ms). */
  leasedSince(peer: string, since: number): number
  /**
   * Leases queued tasks to the peer as a steal of `req` would be answered (the same rules), and
   * only when this node's expected wait exceeds `transferCostMs`.
   */
  grant(peer: string, req: StealRequest, transferCostMs: number): StealGrant
  /** Sends an offer to the peer; resolves with its answer, rejects with `StealRefusedError` on an `error` reply. */
  send(peer: string, offer: OfferRequest): Promise<OfferedReply>
  /** Takes back the leases the peer declined: their tasks are queued again at once. */
  takeBack(peer: string, leases: Array<{ taskId: string; epoch: number }>): void
  counters: Pick<NodeCounters, 'tasksOffered' | 'tasksGranted'>
  /** A beacon older than this says nothing of a peer's free slots, ms. */
  staleAfterMs: number
}

/**
 * The owner's push beside the thieves' pull: queued tasks this node cannot start now go at once to
 * neighbours whose last beacon showed free slots and nothing queued, each under a lease as a steal
 * would grant it — when this node's expected wait exceeds an offer's measured round trip (a task
 * it cannot run waits forever here; a burst of no-ops about to start here is not worth moving). A
 * thief would hear of the work by a beacon and ask for it: two crossings between the nodes more
 * than an offer, each a wake-up of an idle process. The leases a peer took since
 * its last beacon count against the free slots that beacon showed until they end; what a peer
 * declines is queued again at once, and the peer is offered nothing more until its next beacon
 * (after an offer it refused whole: for {@link REFUSED_PAUSE_MS}), so a peer that will not take
 * them is not offered the same tasks at every turn; an offer left unanswered is a grant whose
 * answer was lost — its leases run out.
 */
export class OfferDesk {
  /** Peers that declined: offered nothing until a beacon newer than `at`, and not before `until`. */
  private readonly paused = new Map<string, { at: number; until: number }>()
  /** Mean round trip of the offers answered (ms): what a move costs, against the wait it saves. */
  private rttMs = INITIAL_OFFER_RTT_MS

  constructor(private readonly opts: OfferDeskOptions) {}

  /** Offers stealable queued tasks to the idle neighbours that run them (call once the slots are filled). */
  consider(): void {
    const { queue } = this.opts
    if (queue.stealableCount === 0) return
    const now = monotonicNow()
    let types: string[] | undefined | null = null // read once a neighbour looks idle
    for (const peer of this.opts.peers.eachNeighbour()) {
      if (queue.stealableCount === 0) return
      const free = this.freeSlots(peer, now)
      if (free <= 0) continue
      if (types === null) types = queue.stealableTypes(MAX_QUEUED_TYPES)
      if (types !== undefined && !types.some((t) => peer.types.includes(t))) continue
      if (!this.opts.takesOffers(peer.peerId) || this.opts.admits?.(peer.peerId) === false) continue
      this.offer(peer, free)
    }
  }

  /** A peer's free slots as its last beacon tells, less the leases it took since. */
  private freeSlots(peer: PeerCapacity, now: number): number {
    const free = peer.slots - peer.running
    if (free <= 0 || peer.queued > 0 || now - peer.updatedAt > this.opts.staleAfterMs) return 0
    const paused = this.paused.get(peer.peerId)
    if (paused !== undefined) {
      if (peer.updatedAt <= paused.at || now < paused.until) return 0
      this.paused.delete(peer.peerId)
    }
    return free - this.opts.leasedSince(peer.peerId, peer.updatedAt)
  }

  private offer(peer: PeerCapacity, free: number): void {
    const { peerId } = peer
    const request: StealRequest = {
      type: 'steal',
      requestId: crypto.randomUUID(),
      max: free,
      offer: { types: peer.types, labels: peer.labels, slots: peer.slots, memoryMb: peer.memoryMb },
      queued: 0,
      queuedWorkMs: 0,
      speed: peer.speed,
      freeSlots: free,
    }
    const grant = this.opts.grant(peerId, request, this.rttMs)
    if (grant.tasks.length === 0) return
    this.opts.counters.tasksOffered += grant.tasks.length
    const leases = grant.leases.map(({ taskId, epoch }) => ({ taskId, epoch }))
    const sent = performance.now()
    this.opts.send(peerId, { ...grant, type: 'offer' }).then(
      (reply) => {
        this.rttMs = 0.8 * this.rttMs + 0.2 * (performance.now() - sent)
        this.opts.counters.tasksGranted += reply.accepted.length
        const declined = new Set(reply.declined)
        const back = leases.filter((l) => declined.has(l.taskId))
        if (back.length === 0) return
        this.pause(peerId, 0)
        this.opts.takeBack(peerId, back)
      },
      (err: Error) => {
        // unanswered: as for a grant whose answer was lost, the leases run out
        if (!(err instanceof StealRefusedError)) return
        this.pause(peerId, REFUSED_PAUSE_MS)
        this.opts.takeBack(peerId, leases)
      },
    )
  }

  /** Offers the peer nothing until its next beacon, and for `forMs` at least. */
  private pause(peer: string, forMs: number): void {
    const at = monotonicNow()
    this.paused.set(peer, { at, until: at + forMs })
  }
}

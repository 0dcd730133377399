import type { Connection, PeerId, StreamCloseEvent } from '@libp2p/interface'
import { monotonicNow } from '../../util/clock.ts'
import { stallAwareInterval } from '../../util/stall-aware-interval.ts'
import { trimOldest } from '../../util/trim-oldest.ts'
import type { MeshLibp2p } from '../wire/libp2p-factory.ts'
import { PeerLiveness } from './liveness.ts'

/**
 * How long a peer declared dead is dialled again now and then, ms. Two parts of a mesh that a
 * network cut parted each judge the other dead, and nothing else dials across: a node with enough
 * connections dials its bootstrap peers again only after 5–30 min (`BOOTSTRAP_QUIET_MIN_MS`), and
 * a part may hold no bootstrap peer at all. A day: the dials cost the same whatever the count of
 * peers declared dead (two a round), so a cut of hours heals within seconds of its end as one of
 * minutes does. A longer cut is left to the bootstrap keepers.
 */
export const LOST_PEER_MEMORY_MS = 24 * 60 * 60_000
/**
 * How a node dials again the peers whose connections broke. First libp2p's own redials of the
 * peers kad-dht keeps alive: `retries` of them, the first `firstMs` after the break and each next
 * twice as long after the one before. A peer silent for longer than those last (see
 * {@link libp2pRedialsMs}) and declared dead is then dialled by the node's own rounds, every
 * `lostMs` (times a random factor in [0.5, 1.5)), a few peers a round. Dialling the peers still in
 * libp2p's redials too — a restarted node dials its bootstrap peers itself, and a frozen process
 * keeps its connections — made `npm run chaos` (a fault every 4 s) drain in 14.6–19.4 s instead of 13.1.
 */
export interface PeerRedials {
  /** Redials libp2p makes of a kept-alive peer, 0 to {@link MAX_LIBP2P_REDIALS}. */
  retries: number
  /** Delay of libp2p's first redial, ms; each next one waits twice as long. */
  firstMs: number
  /** Pause between two rounds of the node's dials of peers declared dead, ms. */
  lostMs: number
}
/** libp2p's own redial schedule (1 + 2 + 4 + 8 + 16 s), and a round of the node's every 10 s. */
export const DEFAULT_PEER_REDIALS: PeerRedials = { retries: 5, firstMs: 1_000, lostMs: 10_000 }
/** Redials libp2p may be told to make at most (2¹⁰ × the first delay: past it, the node's own rounds). */
export const MAX_LIBP2P_REDIALS = 10

/** How long libp2p's redials of a peer last after its connection broke, ms (31 s by default). */
export function libp2pRedialsMs(redials: PeerRedials): number {
  return redials.firstMs * (2 ** redials.retries - 1)
}
/** Peers whose clean close a node remembers (see `LivenessWatch`), at most. */
const CLOSED_CLEANLY_MEMORY = 10_000
/** Peers declared dead that a round dials, at most (chosen at random among them). */
export const LOST_PEER_DIALS = 2

/** Options of {@link LivenessWatch}. */
export interface LivenessWatchOptions {
  /** This node's peer id (never judged). */
  self: string
  /** Tells of disconnects (a killed peer drops its connections at once). */
  libp2p: Pick<MeshLibp2p, 'addEventListener' | 'removeEventListener'>
  /** A peer silent this long is declared dead, ms. */
  failureDetectionMs: number
  /** Interval of capacity beacons, ms (sets the check period and the grace after a disconnect). */
  beaconIntervalMs: number
  /** A peer was declared dead. */
  onDead(peer: string): void
  /**
   * Dials a peer once; resolves false when nothing answers (its process is gone). Probes a
   * disconnected peer this node has business with, and a few peers declared dead each
   * `redials.lostMs` (see {@link LOST_PEER_MEMORY_MS}): once one is reached, its beacons bring it back.
   */
  probe?(peer: string): Promise<boolean>
  /** @defaultValue DEFAULT_PEER_REDIALS */
  redials?: PeerRedials
  /** @defaultValue Math.random */
  random?: () => number
}

/** Who hears the checks (handed in once the parts that judge orphans exist: see {@link LivenessWatch.watch}). */
export interface LivenessListener {
  /** A check ran (after any deaths it declared); `changed` when a peer died or came back since the last one. */
  onCheck(changed: boolean): void
  /**
   * Whether a disconnected peer is worth a probe: this node has business with it (leases either
   * way, tasks it guards or owns there). @defaultValue never (only the silence window judges)
   */
  matters?(peer: string): boolean
}

/**
 * Which peers are alive, judged on a timer: a peer is heard when its beacons (or announcements)
 * arrive, and declared dead when silent for the detection window, or disconnected and silent for
 * a shorter grace. A tick that comes late because this process stalled postpones every peer's
 * silence instead of judging it (`stallAwareInterval`).
 */
export class LivenessWatch {
  private readonly liveness: PeerLiveness
  private timer: NodeJS.Timeout | undefined
  private redialTimer: NodeJS.Timeout | undefined
  private changed = false
  private stopped = false
  private listener: LivenessListener | undefined
  private readonly backs: Array<(peer: string, lastHeardAt: number) => void> = []
  /**
   * Peers whose last connection was closed cleanly, by either side: a deliberate close (a trimmed
   * connection, a stopping node), not a cut. Dialling them again fought the trimmer: a node over
   * its limit closed the connection, the peer dialled back 30 s later, and round again.
   */
  private readonly closedCleanly = new Map<string, number>()

  constructor(private readonly opts: LivenessWatchOptions) {
    this.liveness = new PeerLiveness({
      windowMs: opts.failureDetectionMs,
      disconnectGraceMs: Math.min(opts.failureDetectionMs, 2 * opts.beaconIntervalMs),
    })
  }

  /** Tells `listener` of every check from now on. */
  watch(listener: LivenessListener): void {
    this.listener = listener
  }

  start(): void {
    this.opts.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.opts.libp2p.addEventListener('connection:open', this.onOpen)
    const period = Math.max(50, Math.min(this.opts.beaconIntervalMs, this.opts.failureDetectionMs / 4))
    this.timer = stallAwareInterval(period, (stalledMs) => {
      if (stalledMs > 0) {
        // silence is judged at the next tick (what came meanwhile is unread), but the peers
        // declared dead already are looked at now: a busy process still adopts their orphans
        this.liveness.postpone(stalledMs)
        this.tell()
      } else this.check()
    })
    this.redialLater()
  }

  stop(): void {
    this.stopped = true
    clearInterval(this.timer)
    clearTimeout(this.redialTimer)
    this.opts.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    this.opts.libp2p.removeEventListener('connection:open', this.onOpen)
  }

  /**
   * Calls `fn` each time a peer declared dead is heard again, with when it was last heard before:
   * what went out to the mesh since, it may have missed (a network cut, a frozen process).
   */
  onBack(fn: (peer: string, lastHeardAt: number) => void): void {
    this.backs.push(fn)
  }

  /** `peer` was heard from now. Returns true when it had been declared dead and is back. */
  heard(peer: string): boolean {
    if (peer === this.opts.self) return false
    const before = this.liveness.heardAt(peer) ?? 0
    const back = this.liveness.heard(peer, monotonicNow())
    if (back) {
      this.changed = true
      for (const fn of this.backs) fn(peer, before)
    }
    return back
  }

  /** True when `peer` was declared dead and has not been heard from since. */
  isDead(peer: string): boolean {
    return this.liveness.isDead(peer)
  }

  /** Peers heard from recently and not declared dead (this node not included). */
  live(): string[] {
    return this.liveness.live()
  }

  private redialLater(): void {
    const random = this.opts.random ?? Math.random
    const ms = (this.opts.redials ?? DEFAULT_PEER_REDIALS).lostMs * (0.5 + random())
    this.redialTimer = setTimeout(() => {
      this.redialLost(random)
      this.redialLater()
    }, ms)
    this.redialTimer.unref()
  }

  /**
   * Dials up to {@link LOST_PEER_DIALS} peers declared dead, silent for longer than libp2p's own
   * redials last ({@link libp2pRedialsMs}) and less than {@link LOST_PEER_MEMORY_MS}.
   */
  private redialLost(random: () => number): void {
    const { probe } = this.opts
    if (probe === undefined || this.stopped) return
    const now = monotonicNow()
    const lost = this.liveness
      .lostBetween(
        now - LOST_PEER_MEMORY_MS,
        now - libp2pRedialsMs(this.opts.redials ?? DEFAULT_PEER_REDIALS),
      )
      .filter((peer) => !this.closedCleanly.has(peer))
    for (let i = 0; i < LOST_PEER_DIALS && lost.length > 0; i++) {
      const [peer] = lost.splice(Math.floor(random() * lost.length), 1)
      void probe(peer)
    }
  }

  private check(): void {
    for (const peer of this.liveness.check(monotonicNow())) {
      this.changed = true
      this.opts.onDead(peer)
    }
    this.tell()
  }

  private tell(): void {
    const changed = this.changed
    this.changed = false
    this.listener?.onCheck(changed)
  }

  private readonly onOpen = (evt: CustomEvent<Connection>): void => {
    const peer = evt.detail.remotePeer.toString()
    this.closedCleanly.delete(peer)
    evt.detail.addEventListener(
      'close',
      (e) => {
        // the last close decides: a cut after a clean close of another connection is a cut
        if ((e as StreamCloseEvent).error !== undefined) this.closedCleanly.delete(peer)
        else this.closedCleanly.set(peer, monotonicNow())
        trimOldest(this.closedCleanly, CLOSED_CLEANLY_MEMORY)
      },
      { once: true },
    )
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    this.liveness.disconnected(peer, monotonicNow())
    if (this.opts.probe === undefined || this.listener?.matters?.(peer) !== true) return
    // a process that dies closes its connections at once: a dial that finds nothing confirms it
    void this.opts.probe(peer).then((alive) => {
      if (this.stopped) return
      if (alive) this.heard(peer)
      else if (this.liveness.declareDead(peer)) {
        this.opts.onDead(peer)
        this.listener?.onCheck(true)
      }
    })
  }
}

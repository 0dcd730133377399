/** Options of {@link PeerLiveness}. */
export interface PeerLivenessOptions {
  /** A peer heard from (capacity beacon) less recently than this is declared dead, ms. */
  windowMs: number
  /**
   * A peer that disconnected and was not heard from since is declared dead this long after the
   * disconnect (sooner than `windowMs`: a killed process drops its connections at once), ms.
   */
  disconnectGraceMs: number
}

interface Seen {
  /** Last beacon, local clock ms. */
  heardAt: number
  /** False for a peer only seen disconnecting (e.g. a light client): forgotten once declared dead. */
  heard: boolean
  /** Last disconnect not followed by a beacon, local clock ms. */
  disconnectedAt?: number
  dead: boolean
}

/**
 * Which peers are alive, by their capacity beacons: a peer is declared dead when it has been
 * silent for the detection window, or disconnected and silent for the (shorter) grace period. A
 * beacon brings it back (a restarted daemon keeps its peer id). Time is passed in; no timers.
 */
export class PeerLiveness {
  private readonly peers = new Map<string, Seen>()

  constructor(private readonly opts: PeerLivenessOptions) {}

  /** When `peer` was last heard from (ms; moved on by any stall since), if it ever was. */
  heardAt(peer: string): number | undefined {
    return this.peers.get(peer)?.heardAt
  }

  /** A beacon of `peer` arrived. Returns true when the peer was dead and is back. */
  heard(peer: string, now: number): boolean {
    const seen = this.peers.get(peer)
    const revived = seen?.dead === true
    this.peers.set(peer, { heardAt: now, heard: true, dead: false })
    return revived
  }

  /**
   * The last connection to `peer` closed. A peer never heard from is tracked from now on (it may
   * hold leases granted before its first beacon arrived).
   */
  disconnected(peer: string, now: number): void {
    const seen = this.peers.get(peer)
    if (seen === undefined) {
      this.peers.set(peer, { heardAt: now, heard: false, disconnectedAt: now, dead: false })
    } else if (!seen.dead) seen.disconnectedAt = now
  }

  /**
   * This node stalled for `stalledMs` (see `stallAwareInterval`): the silence of every live peer
   * counts from that much later, since what they sent meanwhile has not been read yet.
   */
  postpone(stalledMs: number): void {
    for (const seen of this.peers.values()) {
      if (seen.dead) continue
      seen.heardAt += stalledMs
      if (seen.disconnectedAt !== undefined) seen.disconnectedAt += stalledMs
    }
  }

  /** Declares dead every peer silent past the window (or the grace after a disconnect); returns them. */
  check(now: number): string[] {
    const died: string[] = []
    for (const [peer, seen] of this.peers) {
      if (seen.dead) continue
      const silent = now - seen.heardAt >= this.opts.windowMs
      const gone =
        seen.disconnectedAt !== undefined &&
        seen.heardAt <= seen.disconnectedAt &&
        now - seen.disconnectedAt >= this.opts.disconnectGraceMs
      if (silent || gone) {
        seen.dead = true
        died.push(peer)
        if (!seen.heard) this.peers.delete(peer)
      }
    }
    return died
  }

  /**
   * Declares `peer` dead now (a probe found nothing listening where it was: its process is gone).
   * Returns true when it was alive until now.
   */
  declareDead(peer: string): boolean {
    const seen = this.peers.get(peer)
    if (seen === undefined || seen.dead) return false
    seen.dead = true
    if (!seen.heard) this.peers.delete(peer)
    return true
  }

  /** Peers declared dead (not heard from since) that were last heard between `since` and `until`, ms. */
  lostBetween(since: number, until: number): string[] {
    const lost: string[] = []
    for (const [peer, { dead, heardAt }] of this.peers)
      if (dead && heardAt >= since && heardAt <= until) lost.push(peer)
    return lost
  }

  /** True when `peer` was declared dead and has not been heard from since. */
  isDead(peer: string): boolean {
    return this.peers.get(peer)?.dead === true
  }

  /** Peers heard from and not declared dead. */
  live(): string[] {
    const out: string[] = []
    for (const [peer, seen] of this.peers) if (!seen.dead) out.push(peer)
    return out
  }
}

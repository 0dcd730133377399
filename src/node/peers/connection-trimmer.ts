import { type Connection, KEEP_ALIVE, type PeerId } from '@libp2p/interface'
import type { MeshLibp2p } from '../wire/libp2p-factory.ts'
import { WORK_TAG } from '../wire/work-tags.ts'

/**
 * Connections a node accepts beyond its limit (`maxConnections`): room for newcomers, whose surplus
 * {@link ConnectionTrimmer} closes once their grace has passed. A node that refused every
 * connection at its limit left a peer that knew only full nodes unable to join at all (48 nodes over TCP, each bootstrapped to the same 3:
 * the last 14 had no connection; every connection carries taskmesh streams, which libp2p's own
 * pruner never closes, so a full node stayed full).
 */
export function connectionHeadroom(limit: number): number {
  return Math.max(8, Math.ceil(limit / 4))
}

/** A connection younger than this is never closed to trim: a newcomer learns the mesh through it first, ms. */
export const TRIM_GRACE_MS = 10_000
/** Connections are counted again this often, ms (and a grace after each one opened over the limit). */
export const TRIM_CHECK_MS = 5_000

/** What a {@link ConnectionTrimmer} uses of libp2p. */
export type TrimmerLibp2p = Pick<
  MeshLibp2p,
  'getConnections' | 'peerStore' | 'addEventListener' | 'removeEventListener'
>

/** Options of {@link ConnectionTrimmer}. */
export interface ConnectionTrimmerOptions {
  libp2p: TrimmerLibp2p
  /** Connections kept once the grace of the newer ones has passed (`maxConnections`). */
  limit: number
  /** Peers never cut off: those this node has work with (leases, custody) beyond their tags. */
  protects(peer: string): boolean
  /** @defaultValue TRIM_GRACE_MS */
  graceMs?: number
  /** @defaultValue TRIM_CHECK_MS */
  checkMs?: number
}

/**
 * Brings a node over its connection limit back to it, as a connection manager with a low and a
 * high watermark does: libp2p refuses connections only beyond the limit plus
 * {@link connectionHeadroom}; past a grace period, this closes the surplus — connections to peers
 * of least value first (the sum of their peer-store tags: kad-dht's routing table, bootstrap),
 * oldest first among equals (an old peer has other connections; a newcomer may have none), never
 * one to a peer this node has work with (tagged `taskmesh-work`, or `protects`) nor one libp2p
 * keeps alive.
 */
export class ConnectionTrimmer {
  private interval: NodeJS.Timeout | undefined
  private soon: NodeJS.Timeout | undefined
  private trimming = false
  /** Connections closed to bring the node back to its limit, since it started. */
  trimmed = 0

  constructor(private readonly opts: ConnectionTrimmerOptions) {}

  start(): void {
    this.interval = setInterval(() => void this.trim(), this.opts.checkMs ?? TRIM_CHECK_MS)
    this.interval.unref()
    this.opts.libp2p.addEventListener('connection:open', this.onOpen)
  }

  stop(): void {
    clearInterval(this.interval)
    clearTimeout(this.soon)
    this.opts.libp2p.removeEventListener('connection:open', this.onOpen)
  }

  /** Closes the connections beyond the limit that may be closed now; resolves with how many. */
  async trim(): Promise<number> {
    const conns = this.opts.libp2p.getConnections()
    const excess = conns.length - this.opts.limit
    if (excess <= 0 || this.trimming) return 0
    this.trimming = true
    try {
      const since = Date.now() - (this.opts.graceMs ?? TRIM_GRACE_MS)
      const values = new Map<string, number | undefined>()
      const candidates: Array<{ conn: Connection; value: number }> = []
      for (const conn of conns) {
        if (conn.status !== 'open' || conn.timeline.open > since) continue
        const peer = conn.remotePeer.toString()
        if (!values.has(peer))
          values.set(peer, this.opts.protects(peer) ? undefined : await this.valueOf(conn.remotePeer))
        const value = values.get(peer)
        if (value !== undefined) candidates.push({ conn, value })
      }
      candidates.sort((a, b) => a.value - b.value || a.conn.timeline.open - b.conn.timeline.open)
      const cut = candidates.slice(0, excess)
      await Promise.all(cut.map(({ conn }) => conn.close().catch((err: Error) => conn.abort(err))))
      this.trimmed += cut.length
      return cut.length
    } finally {
      this.trimming = false
    }
  }

  /** Connections open now, the limit they are brought back to, and how many were closed to do so. */
  get status(): { open: number; limit: number; trimmed: number } {
    return { open: this.opts.libp2p.getConnections().length, limit: this.opts.limit, trimmed: this.trimmed }
  }

  /**
   * The sum of a peer's tag values, or undefined for a peer never trimmed: tagged with work, or
   * `keep-alive…` (libp2p dials such a peer again as soon as its connection closes: kad-dht keeps
   * its 20 closest peers so, and closing them made 48 nodes trim ~1,900 connections a minute).
   */
  private async valueOf(peer: PeerId): Promise<number | undefined> {
    try {
      const { tags } = await this.opts.libp2p.peerStore.get(peer)
      let sum = 0
      for (const [name, tag] of tags) {
        if (name === WORK_TAG || name.startsWith(KEEP_ALIVE)) return undefined
        sum += tag.value
      }
      return sum
    } catch {
      return 0 // not in the peer store: no tag
    }
  }

  private readonly onOpen = (): void => {
    if (this.soon !== undefined || this.opts.libp2p.getConnections().length <= this.opts.limit) return
    this.soon = setTimeout(
      () => {
        this.soon = undefined
        void this.trim()
      },
      (this.opts.graceMs ?? TRIM_GRACE_MS) + 100,
    )
    this.soon.unref()
  }
}

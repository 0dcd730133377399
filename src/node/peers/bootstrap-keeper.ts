import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../../log/logger.ts'
import { failedInHandshake } from '../wire/dial-failure.ts'

/** First pause before a bootstrap peer that could not be reached is dialled again, ms. */
export const BOOTSTRAP_RETRY_MIN_MS = 500
/** Longest pause between two dials of an unreachable bootstrap peer, ms. */
export const BOOTSTRAP_RETRY_MAX_MS = 30_000
/**
 * A node with this many connections is in the mesh: a bootstrap peer that closes its connection
 * is dialled again only after {@link BOOTSTRAP_QUIET_MIN_MS}, not at once (as go-ipfs's bootstrap
 * dials at once only below its threshold of 4). Redialling at once the seeds everyone names
 * would hold them full with connections they close again.
 */
export const KEEP_MIN_CONNECTIONS = 4
/**
 * Pause before a node in the mesh dials again a bootstrap peer that refused it or closed its
 * connection, ms (times a random factor in [0.5, 1.5), so the nodes that joined together do not
 * come back together). Shorter pauses kept the seeds of 48 nodes full: each trimmed 100–190
 * connections a minute, and a newcomer found them all at libp2p's cap.
 */
export const BOOTSTRAP_QUIET_MIN_MS = 300_000
/** Longest such pause (it doubles each time the same peer refuses or closes again), ms. */
export const BOOTSTRAP_QUIET_MAX_MS = 1_800_000

/** Said beside a dial of a bootstrap peer that timed out. */
export const TIMEOUT_HINT =
  'no answer in time: the peer may be down or unreachable, or in a mesh with another swarm key (check both use the same key)'

/** Said beside a dial of a bootstrap peer that failed once connected (cut, or garbled, in the handshake). */
export const RESET_HINT =
  'the connection failed in the handshake: the peer may be in a mesh with another swarm key (check both use the same key), or stopping'

/** The hint beside a failed dial's error, for the failures a swarm key mismatch looks like. */
export function hintOf(error: string): { hint?: string } {
  if (/abort|timeout/i.test(error)) return { hint: TIMEOUT_HINT }
  return failedInHandshake(error) ? { hint: RESET_HINT } : {}
}

/** The peer id a bootstrap address names (its last `/p2p/`), if any. */
function bootstrapPeer(address: string): string | undefined {
  try {
    return multiaddr(address)
      .getComponents()
      .findLast((c) => c.name === 'p2p')?.value
  } catch {
    return undefined
  }
}

/**
 * The bootstrap addresses that are not of the node `self`: one list given to every node of a
 * mesh names each seed, which would dial itself ("Can not dial self") again and again.
 */
export function withoutSelf(list: readonly string[], self: string): string[] {
  return list.filter((address) => bootstrapPeer(address) !== self)
}

interface Target {
  peer: PeerId
  addr: ReturnType<typeof multiaddr>
  /** Pause before the next dial if this one fails, ms (doubles up to the maximum). */
  delayMs: number
  /** Pause before a node in the mesh dials it again after it closed, ms (doubles up to the maximum). */
  quietMs: number
  timer?: NodeJS.Timeout
  dialing: boolean
  /** The last dial failed (its first failure is a warning, the next ones are not). */
  failing: boolean
}

/**
 * Keeps this node in the mesh through its bootstrap peers. `@libp2p/bootstrap` dials each once at
 * start: a peer that was not up yet (daemons started together, the bootstrap node restarting, a
 * network cut) would stay unconnected for good. While this node has fewer than
 * {@link KEEP_MIN_CONNECTIONS} connections, the keeper dials every bootstrap peer it is not
 * connected to again, backing off from {@link BOOTSTRAP_RETRY_MIN_MS} to
 * {@link BOOTSTRAP_RETRY_MAX_MS}, and again soon after a connection closes. With more, it dials one
 * that failed or closed only after {@link BOOTSTRAP_QUIET_MIN_MS}, doubling up to
 * {@link BOOTSTRAP_QUIET_MAX_MS}: a full peer refuses newcomers and trims the connections beyond
 * its limit, and the mesh keeps this node meanwhile. A network cut heals sooner: each node dials
 * the peers it declared dead for a day (`LOST_PEER_MEMORY_MS`); a longer cut, within the pause.
 */
export class BootstrapKeeper {
  private readonly targets: Target[]
  private stopped = true

  constructor(
    private readonly libp2p: Libp2p,
    list: readonly string[],
    private readonly log?: Logger,
    private readonly random: () => number = Math.random,
  ) {
    const self = libp2p.peerId.toString()
    for (const s of list) {
      if (bootstrapPeer(s) === self) log?.info({ bootstrap: s }, 'bootstrap address is this node: skipped')
    }
    this.targets = withoutSelf(list, self).map((s) => {
      const addr = multiaddr(s)
      const id = bootstrapPeer(s)
      if (id === undefined) throw new Error(`bootstrap address ${s} has no /p2p/<peer id>`)
      return {
        peer: peerIdFromString(id),
        addr,
        delayMs: BOOTSTRAP_RETRY_MIN_MS,
        quietMs: BOOTSTRAP_QUIET_MIN_MS,
        dialing: false,
        failing: false,
      }
    })
  }

  /**
   * From {@link BOOTSTRAP_RETRY_MIN_MS} on (`@libp2p/bootstrap` makes the first dial), dials every
   * bootstrap peer not connected, and keeps doing so.
   */
  start(): void {
    if (!this.stopped || this.targets.length === 0) return
    this.stopped = false
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    for (const t of this.targets) this.schedule(t, BOOTSTRAP_RETRY_MIN_MS)
  }

  /** No dial starts after this. Safe to call twice. */
  stop(): void {
    this.stopped = true
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const t of this.targets) clearTimeout(t.timer)
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const inMesh = this.inMesh()
    for (const t of this.targets) {
      if (t.dialing || this.libp2p.getConnections(t.peer).length > 0) continue
      if (!inMesh) {
        t.delayMs = BOOTSTRAP_RETRY_MIN_MS
        this.schedule(t, BOOTSTRAP_RETRY_MIN_MS)
      } else if (t.peer.equals(evt.detail)) {
        this.schedule(t, this.quietPause(t))
      }
    }
  }

  private inMesh(): boolean {
    return this.libp2p.getConnections().length >= KEEP_MIN_CONNECTIONS
  }

  /** The pause before a node in the mesh dials `t` again (jittered), doubling the next one. */
  private quietPause(t: Target): number {
    const pause = t.quietMs * (0.5 + this.random())
    t.quietMs = Math.min(BOOTSTRAP_QUIET_MAX_MS, t.quietMs * 2)
    return pause
  }

  private schedule(t: Target, afterMs: number): void {
    if (this.stopped) return
    clearTimeout(t.timer)
    t.timer = setTimeout(() => void this.dial(t), afterMs)
    t.timer.unref()
  }

  private async dial(t: Target): Promise<void> {
    if (this.stopped || t.dialing) return
    if (this.libp2p.getConnections(t.peer).length > 0) {
      t.delayMs = BOOTSTRAP_RETRY_MIN_MS
      return
    }
    t.dialing = true
    try {
      await this.libp2p.dial(t.addr)
      t.delayMs = BOOTSTRAP_RETRY_MIN_MS
      if (t.failing) this.log?.info({ bootstrap: t.addr.toString() }, 'bootstrap peer reached')
      t.failing = false
    } catch (err) {
      // a node in the mesh tries again slowly: the peer may be refusing newcomers, full
      const wait = this.inMesh() ? this.quietPause(t) : t.delayMs
      const error = (err as Error).message
      // a handshake that never ends or is cut: a peer of another private mesh looks like this
      const fields = { bootstrap: t.addr.toString(), error, retryInMs: wait, ...hintOf(error) }
      if (this.stopped) return
      if (t.failing) this.log?.debug(fields, 'bootstrap peer still unreachable')
      else this.log?.warn(fields, 'bootstrap peer unreachable: dialling it again with backoff')
      t.failing = true
      t.delayMs = Math.min(BOOTSTRAP_RETRY_MAX_MS, t.delayMs * 2)
      this.schedule(t, wait)
    } finally {
      t.dialing = false
    }
  }
}

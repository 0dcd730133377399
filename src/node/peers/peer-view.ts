import { expectedWaitMs } from '../../policy/capacity.ts'
import type { PeerCapacity } from '../../policy/types.ts'
import { MAX_HOT_ADDRS, MAX_HOT_PEERS } from '../../protocol/constants.ts'
import type { Beacon, HotPeer } from '../../protocol/messages/beacon-messages.ts'
import { checkSignal } from '../../util/abort-fanout.ts'
import { describeValue } from '../../util/describe-value.ts'

/**
 * Peers learnt from neighbours' hot lists a node keeps at most (the ones learnt longest ago go
 * first): a member beaconing new names without end would grow the view, its status and every pass
 * over it without bound (22,000 peers and a 21 MB status in a sweep's 35 s).
 */
export const MAX_HOT_LEARNT = 128

interface Known extends PeerCapacity {
  seq: number
  /** Heard from the peer itself (a neighbour), or only named in a neighbour's hot list. */
  direct: boolean
  /** Where it listens, for a peer learnt from a hot list (a neighbour's are in the peer store). */
  addrs: string[]
}

/**
 * What this node knows of other peers' capacity and load: the latest beacon of every neighbour,
 * and the loaded peers its neighbours named in their hot lists (older news, kept only until a
 * fresher word comes). Thieves choose victims among all of them; liveness and `waitForSize`
 * count neighbours only.
 */
export class PeerView {
  private readonly peers = new Map<string, Known>()
  /** The peers known only from hot lists, the one learnt longest ago first. */
  private readonly learnt = new Set<string>()
  private readonly waiters = new Set<() => void>()
  private neighbours = 0

  constructor(private readonly self: string = '') {}

  /**
   * Records a neighbour's beacon (an older or repeated `seq` changes nothing) and learns the peers
   * of its hot list. Returns true when the beacon was news.
   */
  update(peerId: string, beacon: Beacon, now: number): boolean {
    const prev = this.peers.get(peerId)
    if (prev?.direct === true && prev.seq >= beacon.seq) return false
    if (prev?.direct !== true) this.neighbours++
    this.learnt.delete(peerId)
    this.peers.set(peerId, { ...capacity(peerId, beacon, now), seq: beacon.seq, direct: true, addrs: [] })
    for (const hot of beacon.hot ?? []) if (hot.peerId !== peerId) this.learn(hot, now)
    for (const waiter of this.waiters) waiter()
    return true
  }

  /** A loaded peer a neighbour named: kept unless this node knows fresher news of it. */
  private learn(hot: HotPeer, now: number): void {
    if (hot.peerId === this.self) return
    const updatedAt = now - hot.ageMs
    const prev = this.peers.get(hot.peerId)
    if (prev !== undefined && prev.updatedAt >= updatedAt) return
    if (prev?.direct === true) return // a neighbour's own word is worth more, however old (it beacons)
    this.peers.set(hot.peerId, {
      ...capacity(hot.peerId, hot, updatedAt),
      seq: 0,
      direct: false,
      addrs: hot.addrs,
    })
    this.learnt.delete(hot.peerId) // to the end: learnt last
    this.learnt.add(hot.peerId)
    if (this.learnt.size <= MAX_HOT_LEARNT) return
    const oldest = this.learnt.values().next().value as string
    this.learnt.delete(oldest)
    this.peers.delete(oldest)
  }

  /**
   * Up to `MAX_HOT_PEERS` peers with stealable work, fresher than `staleAfterMs`, most loaded
   * first, as a beacon names them; `addrsOf` gives a neighbour's listen addresses.
   */
  hot(now: number, staleAfterMs: number, addrsOf: (peerId: string) => string[]): HotPeer[] {
    return [...this.peers.values()]
      .filter((p) => p.queued > 0 && now - p.updatedAt <= staleAfterMs)
      .map((p) => ({ p, wait: expectedWaitMs(p) }))
      .sort((a, b) => b.wait - a.wait)
      .slice(0, MAX_HOT_PEERS)
      .map(({ p, wait }) => ({
        peerId: p.peerId,
        addrs: (p.direct ? addrsOf(p.peerId) : p.addrs).slice(0, MAX_HOT_ADDRS),
        ageMs: Math.max(0, now - p.updatedAt),
        slots: p.slots,
        running: p.running,
        queued: p.queued,
        queuedWorkMs: p.queuedWorkMs,
        speed: p.speed,
        types: p.types,
        labels: p.labels,
        memoryMb: p.memoryMb,
        expectedWaitMs: Math.round(wait),
        ...(p.queuedTypes === undefined ? {} : { queuedTypes: p.queuedTypes }),
      }))
  }

  /** Where a peer learnt from a hot list listens (empty for a neighbour or an unknown peer). */
  addrsOf(peerId: string): string[] {
    return this.peers.get(peerId)?.addrs ?? []
  }

  /** Resolves once beacons from at least `count` neighbours were heard; rejects when `signal` aborts first. */
  async waitForSize(count: number, signal: AbortSignal): Promise<void> {
    if (!Number.isInteger(count) || count < 0) {
      throw new TypeError(`waitForPeers: count must be a whole number >= 0, got ${describeValue(count)}`)
    }
    checkSignal(signal, 'waitForPeers')
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.neighbours < count) return
        this.waiters.delete(check)
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = () => {
        this.waiters.delete(check)
        reject(new Error(`heard ${this.neighbours} of ${count} peers before the deadline`))
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiters.add(check)
      check()
      // an abort event never fires again on a signal aborted already
      if (signal.aborted && this.waiters.has(check)) onAbort()
    })
  }

  /** Forgets a peer (disconnected, silent or dead). */
  remove(peerId: string): void {
    if (this.peers.get(peerId)?.direct === true) this.neighbours--
    this.peers.delete(peerId)
    this.learnt.delete(peerId)
  }

  get(peerId: string): PeerCapacity | undefined {
    return this.peers.get(peerId)
  }

  /** Every known peer's capacity: neighbours and peers named in their hot lists. */
  list(): PeerCapacity[] {
    return [...this.peers.values()]
  }

  /** Every known peer's capacity, and whether it is a neighbour (heard itself) or named in a hot list. */
  known(): Array<PeerCapacity & { direct: boolean }> {
    return [...this.peers.values()].map(({ seq: _seq, addrs: _addrs, ...known }) => known)
  }

  /** The neighbours' capacities (peers whose own beacons this node hears). */
  neighbourList(): PeerCapacity[] {
    return [...this.eachNeighbour()]
  }

  /** The neighbours' capacities, read from the view as it is (no copy: for a pass at each slot fill). */
  *eachNeighbour(): IterableIterator<PeerCapacity> {
    for (const p of this.peers.values()) if (p.direct) yield p
  }

  /** True when some peer advertises handler `type`. */
  offersType(type: string): boolean {
    for (const p of this.peers.values()) if (p.types.includes(type)) return true
    return false
  }

  /** Handler types some peer advertises. */
  offeredTypes(): Set<string> {
    const types = new Set<string>()
    for (const p of this.peers.values()) for (const t of p.types) types.add(t)
    return types
  }

  /** Neighbours heard from. */
  get size(): number {
    return this.neighbours
  }
}

function capacity(
  peerId: string,
  load: Omit<HotPeer, 'peerId' | 'addrs' | 'ageMs'>,
  updatedAt: number,
): PeerCapacity {
  return {
    peerId,
    slots: load.slots,
    running: load.running,
    queued: load.queued,
    queuedWorkMs: load.queuedWorkMs,
    speed: load.speed,
    types: load.types,
    labels: load.labels,
    memoryMb: load.memoryMb,
    updatedAt,
    ...(load.queuedTypes === undefined ? {} : { queuedTypes: load.queuedTypes }),
  }
}

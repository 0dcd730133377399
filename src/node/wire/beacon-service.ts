import type { IdentifyResult, PeerId, PeerUpdate, Stream } from '@libp2p/interface'
import { encodeMessage } from '../../protocol/codec.ts'
import { BEACON_PROTOCOL, BEACON_PROTOCOL_1_1, MAX_BEACON_BYTES } from '../../protocol/constants.ts'
import {
  type Beacon,
  beaconForV10,
  beaconFrameSchema,
  beaconSchema10,
} from '../../protocol/messages/beacon-messages.ts'
import { PushStream, servePushStream } from '../../protocol/rpc/push-stream.ts'
import { monotonicNow } from '../../util/clock.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'

/** Inbound beacon streams one connection may hold at once (one per direction and a spare). */
export const MAX_BEACON_STREAMS = 2
/** Deadline of opening a beacon stream to a neighbour, in ms. */
export const BEACON_OPEN_MS = 5_000
/** Least time between two identify runs of one connected peer not known to serve beacons, in ms. */
export const REIDENTIFY_GAP_MS = 10_000

/** Options of {@link BeaconService}. */
export interface BeaconServiceOptions {
  libp2p: MeshLibp2p
  /** A neighbour's beacon arrived (the sender is the connection's peer, authenticated by Noise). */
  onBeacon(from: string, beacon: Beacon): void
  /** A neighbour's stream of `protocol` was aborted: a bad frame, silence, a reset. */
  onRejected?(from: string, err: Error, protocol: string): void
  /** A silent beacon stream is closed after this long, in ms. */
  idleMs: number
}

/** The beacon protocol to speak to a peer, from its protocol list: 1.1 if it serves it, else 1.0. */
function beaconProtocolOf(protocols: string[]): string | undefined {
  if (protocols.includes(BEACON_PROTOCOL_1_1)) return BEACON_PROTOCOL_1_1
  return protocols.includes(BEACON_PROTOCOL) ? BEACON_PROTOCOL : undefined
}

/** A neighbour's push stream and the protocol it speaks. */
interface Neighbour {
  push: PushStream
  v10: boolean
}

/**
 * `/taskmesh/beacon/1.1.0` (and `1.0.0`, for peers that serve only it): every node pushes its
 * capacity beacons to each connected peer that serves the protocol (its neighbours), over one
 * long-lived one-way stream per neighbour — no gossip, no signature (the connection authenticates
 * the sender). A node's cost per beacon is its number of neighbours, whatever the size of the
 * mesh. A new neighbour gets the latest beacon at once. A 1.0 neighbour gets the beacon without
 * its queued types.
 */
export class BeaconService {
  private readonly neighbours = new Map<string, Neighbour>()
  /** Connected peers being looked at (peer store read, identify run again) right now. */
  private readonly considering = new Set<string>()
  /** When each connected peer not known to serve beacons was last identified again (ms). */
  private readonly reidentified = new Map<string, number>()
  private last: Beacon | undefined
  private lastFrames: { v11?: Uint8Array; v10?: Uint8Array } = {}
  private started = false

  constructor(private readonly opts: BeaconServiceOptions) {}

  async start(): Promise<void> {
    const { libp2p } = this.opts
    const limits = { maxInboundStreams: MAX_BEACON_STREAMS, maxOutboundStreams: MAX_BEACON_STREAMS }
    await libp2p.handle(BEACON_PROTOCOL_1_1, (s, c) => this.serve(s, c.remotePeer, false), limits)
    await libp2p.handle(BEACON_PROTOCOL, (s, c) => this.serve(s, c.remotePeer, true), limits)
    libp2p.addEventListener('peer:identify', this.onIdentify)
    // a peer that registered the protocol after identify ran tells by an identify push
    libp2p.addEventListener('peer:update', this.onUpdate)
    libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.started = true
    for (const conn of libp2p.getConnections()) void this.consider(conn.remotePeer)
  }

  /** Stops pushing and serving. Safe to call twice. */
  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    const { libp2p } = this.opts
    libp2p.removeEventListener('peer:identify', this.onIdentify)
    libp2p.removeEventListener('peer:update', this.onUpdate)
    libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const n of this.neighbours.values()) n.push.close()
    this.neighbours.clear()
    this.reidentified.clear()
    await libp2p.unhandle(BEACON_PROTOCOL_1_1).catch(() => undefined)
    await libp2p.unhandle(BEACON_PROTOCOL).catch(() => undefined)
  }

  /** Peers this node pushes its beacons to. */
  get neighbourCount(): number {
    return this.neighbours.size
  }

  /** Pushes a beacon to every neighbour (encoded once per protocol in use). */
  publish(beacon: Beacon): void {
    this.last = beacon
    this.lastFrames = {}
    for (const n of this.neighbours.values()) n.push.push(this.frame(n.v10))
    this.reconcile()
  }

  /** The last beacon's frame for a 1.1 or a 1.0 neighbour. */
  private frame(v10: boolean): Uint8Array {
    const frames = this.lastFrames
    const beacon = this.last as Beacon
    if (v10) {
      frames.v10 ??= encodeMessage(beaconForV10(beacon))
      return frames.v10
    }
    frames.v11 ??= encodeMessage(beacon)
    return frames.v11
  }

  /**
   * Looks again at connected peers that are no neighbours yet. Identify may have failed (it gives
   * up after 5 s, which a busy event loop exceeds while many connections open at once); no event
   * would then ever make the peer a neighbour, and it would never hear this node's beacons.
   */
  private reconcile(): void {
    for (const conn of this.opts.libp2p.getConnections()) {
      const id = conn.remotePeer.toString()
      // a peer found not serving is read again too: its protocols may have been known in part
      if (this.neighbours.has(id) || this.considering.has(id)) continue
      if (conn.status !== 'open') continue
      if (Date.now() - conn.timeline.open < BEACON_OPEN_MS) continue // identify is still under way
      this.considering.add(id)
      void this.consider(conn.remotePeer, true).finally(() => this.considering.delete(id))
    }
  }

  private serve(stream: Stream, peer: PeerId, v10: boolean): Promise<void> {
    const from = peer.toString()
    const schema = v10 ? beaconSchema10 : beaconFrameSchema
    return servePushStream(stream, schema, (beacon) => this.opts.onBeacon(from, beacon), {
      maxBytes: MAX_BEACON_BYTES,
      what: 'beacon',
      idleMs: this.opts.idleMs,
      onError: (err) => this.opts.onRejected?.(from, err, v10 ? BEACON_PROTOCOL : BEACON_PROTOCOL_1_1),
    })
  }

  /**
   * Starts pushing to `peer` if it serves the protocol (identify has told, or will tell). With
   * `identifyAgain`, a peer not known to serve it is identified once more, at most once per
   * `REIDENTIFY_GAP_MS`: its protocols may be unknown, or known in part — an identify that timed
   * out on a busy event loop left a peer with one protocol some other service recorded, and it
   * never heard this node's beacons (200 of 800 neighbour pairs of a 100-node mesh, still 20 s
   * after it formed).
   */
  private async consider(peer: PeerId, identifyAgain = false): Promise<void> {
    const { libp2p } = this.opts
    let protocols: string[] = []
    try {
      protocols = (await libp2p.peerStore.get(peer)).protocols
    } catch {
      // not in the peer store yet: identify will tell
    }
    if (beaconProtocolOf(protocols) === undefined && identifyAgain) {
      const id = peer.toString()
      const conn = libp2p.getConnections(peer)[0]
      const last = this.reidentified.get(id)
      if (conn === undefined || (last !== undefined && monotonicNow() - last < REIDENTIFY_GAP_MS)) return
      this.reidentified.set(id, monotonicNow())
      try {
        protocols = (await libp2p.services.identify.identify(conn)).protocols
      } catch {
        return // the next beacon looks again
      }
    }
    this.add(peer, protocols)
  }

  private add(peer: PeerId, protocols: string[]): void {
    const protocol = beaconProtocolOf(protocols)
    if (protocol === undefined) return
    const id = peer.toString()
    this.reidentified.delete(id)
    if (!this.started || this.neighbours.has(id)) return
    if (this.opts.libp2p.getConnections(peer).length === 0) return
    const push = new PushStream({
      open: (signal) => this.opts.libp2p.dialProtocol(peer, protocol, { signal }),
      openTimeoutMs: BEACON_OPEN_MS,
    })
    const v10 = protocol === BEACON_PROTOCOL
    this.neighbours.set(id, { push, v10 })
    if (this.last !== undefined) push.push(this.frame(v10))
  }

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    this.add(evt.detail.peerId, evt.detail.protocols)
  }

  private readonly onUpdate = (evt: CustomEvent<PeerUpdate>): void => {
    this.add(evt.detail.peer.id, evt.detail.peer.protocols)
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    this.reidentified.delete(id)
    this.neighbours.get(id)?.push.close()
    this.neighbours.delete(id)
  }
}

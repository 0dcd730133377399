import { setMaxListeners } from 'node:events'
import type { IdentifyResult, PeerId, Stream } from '@libp2p/interface'
import { Libp2pRecord } from '@libp2p/record'
import type { Datastore } from 'interface-datastore'
import { MAX_FRAME_BYTES, MAX_RECORDS_PER_STORE, REPLICATE_PROTOCOL } from '../../protocol/constants.ts'
import { RpcAbortedError } from '../../protocol/errors.ts'
import {
  type ReplicateReply,
  replicateReplySchema,
  type StoreOutcome,
  type StoreRequest,
  storeRequestSchema,
} from '../../protocol/messages/replicate-messages.ts'
import { openResultRecordSync, recordToBase64, resultKey } from '../../protocol/records/result-record.ts'
import { VerifiedRoots } from '../../protocol/records/verified-roots.ts'
import { RpcSession, serveSession } from '../../protocol/rpc/rpc-session.ts'
import { withDeadline } from '../../protocol/rpc/signals.ts'
import { fromBase64 } from '../../util/base64.ts'
import { Batcher } from '../../util/batcher.ts'
import type { MeshLibp2p } from '../wire/libp2p-factory.ts'
import type { StreamLimits } from '../wire/stream-limits.ts'
import { ClosestPeers } from './closest-peers.ts'
import { type FencedWrite, putResultRecord, readStoredResult } from './fencing.ts'
import { PendingCopies } from './pending-copies.ts'

export { DHT_RECORD_PREFIX, dhtRecordKey } from './fencing.ts'

/** Peers that receive a copy of each record (besides the local copy). */
export const DEFAULT_REPLICAS = 3
/** Deadline of one {@link RecordReplicator.store} when the caller gives no signal, in ms. */
export const DEFAULT_STORE_TIMEOUT_MS = 10_000
/**
 * Records bound for one peer wait this long, in ms, to travel together in one `store` frame. Copies
 * are for durability and polling: waiters hear of results from completions and notices (and the
 * executor serves its own copy at once), so the wait costs no latency and saves a frame per record.
 */
export const REPLICATE_WINDOW_MS = 100
/** Base64 characters of records one `store` frame carries at most (a larger record goes alone). */
const STORE_FRAME_CHARS = 1024 * 1024
/** Inbound replicate-protocol streams one peer may hold open at once. */
export const MAX_INBOUND_REPLICATE_STREAMS = 16

/**
 * The local store already holds a record of the key that wins the selector against the one being
 * stored (a late result from an older epoch): nothing was written, nothing is replicated.
 */
export class StaleRecordError extends Error {
  override readonly name = 'StaleRecordError'
  readonly code = 'ERR_STALE_RECORD'
  constructor(
    /** The value stored locally, which stays. */
    readonly current: Uint8Array,
  ) {
    super('a record that wins the selector is stored already')
  }
}

/** Options of {@link RecordReplicator}. */
export interface RecordReplicatorOptions {
  libp2p: MeshLibp2p
  /** The datastore libp2p (and so kad-dht) was created with: copies go where kad-dht serves them. */
  datastore: Datastore
  /** The batch roots this node has checked (records of a batch are checked once). @defaultValue a fresh one */
  roots?: VerifiedRoots
  /** Peers that receive a copy of each record. @defaultValue DEFAULT_REPLICAS */
  replicas?: number
  /** Protocol id the peers serve. @defaultValue REPLICATE_PROTOCOL */
  protocol?: string
  /** The node's inbound stream limits (idle deadline, shared byte budget). @defaultValue none */
  limits?: StreamLimits
}

interface Outgoing {
  key: Uint8Array
  record: string
  signal: AbortSignal | undefined
  done(acknowledged: boolean): void
}

/**
 * Stores result records in the DHT in batches. The local copy is written where kad-dht keeps its own
 * records (fenced: a record that loses the selector never replaces a stored one); copies go to the
 * `replicas` connected peers closest to each key (Kademlia distance) over the replicate protocol:
 * the records bound for one peer in one turn of the event loop travel in one `store` frame on a
 * session stream, and the peer checks each (a batch signature once), keeps it the same fenced way
 * and answers with one outcome per record. kad-dht's GET_VALUE serves every copy, so a stock
 * kad-dht `get` finds them.
 *
 * The same object serves the protocol: {@link start} registers the handler.
 */
export class RecordReplicator {
  private readonly libp2p: MeshLibp2p
  private readonly datastore: Datastore
  private readonly replicas: number
  private readonly protocol: string
  private readonly closest: ClosestPeers
  private readonly roots: VerifiedRoots
  private readonly sessions = new Map<string, RpcSession<ReplicateReply>>()
  private readonly outboxes = new Map<string, Batcher<Outgoing>>()
  private readonly stopping = new AbortController()
  private serving = false
  private readonly limits: StreamLimits | undefined
  private readonly pending = new PendingCopies((key, value) => this.replicate(key, value))
  /**
   * A peer refused a copy because it holds a record of the key that wins the selector (a later
   * run of the task, say, which this node missed while it was frozen or its owner was down): the
   * node should read that record and keep it instead of its own.
   */
  onSuperseded: ((key: Uint8Array) => void) | undefined

  constructor(opts: RecordReplicatorOptions) {
    this.libp2p = opts.libp2p
    this.datastore = opts.datastore
    this.replicas = opts.replicas ?? DEFAULT_REPLICAS
    if (!Number.isInteger(this.replicas) || this.replicas < 0) {
      throw new RangeError(`replicas must be a whole number >= 0, got ${this.replicas}`)
    }
    this.protocol = opts.protocol ?? REPLICATE_PROTOCOL
    this.limits = opts.limits
    this.roots = opts.roots ?? new VerifiedRoots()
    this.closest = new ClosestPeers(this.libp2p, this.protocol)
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.libp2p.addEventListener('peer:identify', this.onIdentify)
    // every store frame in flight (a bounded number) listens to it until its reply is in
    setMaxListeners(Number.POSITIVE_INFINITY, this.stopping.signal)
  }

  /** Serves the replicate protocol: peers store their records here. */
  async start(): Promise<void> {
    await this.libp2p.handle(this.protocol, (stream) => this.serve(stream), {
      maxInboundStreams: MAX_INBOUND_REPLICATE_STREAMS,
    })
    this.serving = true
  }

  /**
   * Stores `value` under `key`: the local copy first, then one copy at each of the closest
   * connected peers serving the protocol. Peers that refuse the record (invalid, or a record that
   * wins is stored there) or do not answer before `signal` aborts count as not acknowledged.
   * @param signal - bounds the whole store. @defaultValue `AbortSignal.timeout(DEFAULT_STORE_TIMEOUT_MS)`
   * @returns how many peers acknowledged the record (0 when there are none).
   * @throws the signal's reason when it aborts before the local copy is written; the datastore's
   *   error when that write fails; RpcAbortedError after {@link stop}; StaleRecordError when the
   *   local store holds a result record that wins against `value` (then nothing is sent).
   */
  async store(
    key: Uint8Array,
    value: Uint8Array,
    signal: AbortSignal = AbortSignal.timeout(DEFAULT_STORE_TIMEOUT_MS),
  ): Promise<number> {
    if (this.stopping.signal.aborted) throw new RpcAbortedError('replicator stopped')
    signal.throwIfAborted()
    const local = await this.storeLocal(key, value, signal)
    if (!local.written) throw new StaleRecordError(local.current)
    return this.replicate(key, value, signal)
  }

  /**
   * Writes the local copy of `value` under `key` where kad-dht keeps and serves it, unless a
   * result record stored there wins the selector against it (fencing; see `putResultRecord`).
   */
  async storeLocal(key: Uint8Array, value: Uint8Array, signal?: AbortSignal): Promise<FencedWrite> {
    const record = new Libp2pRecord(key, value, new Date()).serialize()
    return putResultRecord(this.datastore, key, record, { signal }, this.roots)
  }

  /** The value stored locally under `key` (unverified), if any. */
  async readLocal(key: Uint8Array): Promise<Uint8Array | undefined> {
    return readStoredResult(this.datastore, key)
  }

  /**
   * Sends `value` to the closest connected peers only (the local copy is the caller's, see
   * {@link storeLocal}); resolves with how many acknowledged it. Each frame is bounded by
   * `DEFAULT_STORE_TIMEOUT_MS`; `signal` drops the record from frames not sent yet. Never rejects
   * but after {@link stop}.
   * @param except - a peer the caller hands the record to itself (a thief's completion carries it
   *   to the owner, which keeps it): when it is among the closest, it is sent nothing and counts as
   *   one copy.
   */
  async replicate(
    key: Uint8Array,
    value: Uint8Array,
    signal?: AbortSignal,
    except?: string,
  ): Promise<number> {
    if (this.stopping.signal.aborted) throw new RpcAbortedError('replicator stopped')
    const closest = await this.closest.of(key, this.replicas)
    const peers = except === undefined ? closest : closest.filter((p) => p.toString() !== except)
    const carried = closest.length - peers.length
    if (peers.length === 0) return carried
    const record = recordToBase64(value)
    const acks = await Promise.all(
      peers.map((peer) => new Promise<boolean>((done) => this.enqueue(peer, { key, record, signal, done }))),
    )
    return carried + acks.filter(Boolean).length
  }

  /**
   * Remembers a record no peer took a copy of (there were none, or none answered): it is sent
   * again whenever a peer that serves the protocol is identified, until one acknowledges it.
   */
  replicateLater(key: Uint8Array, value: Uint8Array): void {
    if (this.replicas > 0 && !this.stopping.signal.aborted) this.pending.add(key, value)
  }

  /** Records waiting for a peer to take a copy (see {@link replicateLater}). */
  get unreplicated(): number {
    return this.pending.size
  }

  /** Stops: fails what is queued, closes every session and stops listening. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return
    this.stopping.abort(new RpcAbortedError('replicator stopped'))
    for (const outbox of this.outboxes.values()) outbox.flushNow() // fails each: the replicator stopped
    this.outboxes.clear()
    for (const session of this.sessions.values()) session.close()
    this.sessions.clear()
    this.closest.stop()
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    this.libp2p.removeEventListener('peer:identify', this.onIdentify)
    if (this.serving) await this.libp2p.unhandle(this.protocol).catch(() => undefined)
  }

  /** Queues a record for a peer; see {@link REPLICATE_WINDOW_MS}. */
  private enqueue(peer: PeerId, item: Outgoing): void {
    const id = peer.toString()
    let outbox = this.outboxes.get(id)
    if (outbox === undefined) {
      outbox = new Batcher(REPLICATE_WINDOW_MS, (items) => this.flush(peer, items), { leading: false })
      this.outboxes.set(id, outbox)
    }
    outbox.add(item)
  }

  /** Sends what is queued for a peer, in as few frames as the limits allow. */
  private flush(peer: PeerId, items: Outgoing[]): void {
    let frame: Outgoing[] = []
    let chars = 0
    for (const item of items) {
      if (item.signal?.aborted === true || this.stopping.signal.aborted) {
        item.done(false)
        continue
      }
      const full = chars + item.record.length > STORE_FRAME_CHARS || frame.length >= MAX_RECORDS_PER_STORE
      if (frame.length > 0 && full) {
        void this.send(peer, frame)
        frame = []
        chars = 0
      }
      frame.push(item)
      chars += item.record.length
    }
    if (frame.length > 0) void this.send(peer, frame)
  }

  /** Sends one `store` frame; a record counts as acknowledged where the peer stored it. */
  private async send(peer: PeerId, items: Outgoing[]): Promise<void> {
    try {
      // the deadline unties from the node's long-lived stop signal as soon as the reply is in
      const reply = await withDeadline(DEFAULT_STORE_TIMEOUT_MS, [this.stopping.signal], (signal) =>
        this.sessionTo(peer).request(
          { type: 'store', requestId: crypto.randomUUID(), records: items.map((i) => i.record) },
          signal,
          { retry: true }, // storing a record again changes nothing
        ),
      )
      const outcomes = reply.type === 'stored' ? reply.outcomes : []
      items.forEach((item, i) => {
        item.done(outcomes[i] === 'stored')
        // the peer holds a record of the key that wins: this node's own copy is the losing one
        if (outcomes[i] === 'superseded') this.onSuperseded?.(item.key)
      })
    } catch {
      for (const item of items) item.done(false)
    }
  }

  private sessionTo(peer: PeerId): RpcSession<ReplicateReply> {
    const id = peer.toString()
    let session = this.sessions.get(id)
    if (session === undefined) {
      session = new RpcSession<ReplicateReply>({
        open: (signal) => this.libp2p.dialProtocol(peer, this.protocol, { signal }),
        replySchema: replicateReplySchema,
        maxBytes: MAX_FRAME_BYTES,
        what: 'store reply',
      })
      this.sessions.set(id, session)
    }
    return session
  }

  /** A peer left: its session goes (a later copy for it opens a fresh one), and its empty outbox. */
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    this.sessions.get(id)?.close()
    this.sessions.delete(id)
    if (this.outboxes.get(id)?.size === 0) this.outboxes.delete(id)
  }

  /** A peer that serves the protocol came: the records no peer took go to it (and the others closest). */
  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    if (this.pending.size > 0 && evt.detail.protocols.includes(this.protocol)) void this.pending.flush()
  }

  private async serve(stream: Stream): Promise<void> {
    await serveSession(stream, storeRequestSchema, (req) => this.keep(req), {
      maxBytes: MAX_FRAME_BYTES,
      what: 'store frame',
      idleMs: this.limits?.requestTimeoutMs,
      budget: this.limits?.budget,
    })
  }

  /** Checks and keeps each record of a `store` frame (fenced), one outcome per record. */
  private async keep(req: StoreRequest): Promise<ReplicateReply> {
    const outcomes = await Promise.all(
      req.records.map(async (text): Promise<StoreOutcome> => {
        try {
          const value = fromBase64(text) // the frame's schema checked the base64 already
          const record = openResultRecordSync(value, undefined, this.roots)
          const write = await this.storeLocal(resultKey(record.taskId), value)
          return write.written ? 'stored' : 'superseded'
        } catch {
          return 'invalid'
        }
      }),
    )
    return { type: 'stored', requestId: req.requestId, outcomes }
  }
}

import { setMaxListeners } from 'node:events'
import type { IdentifyResult, PeerId } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import { DEFAULT_RECORD_COPIES, REPLICATE_PROTOCOL } from '../../protocol/constants.ts'
import { RpcAbortedError } from '../../protocol/errors.ts'
import { MAX_RELAY_AHEAD } from '../../protocol/messages/replicate-messages.ts'
import { VerifiedRoots } from '../../protocol/records/verified-roots.ts'
import type { MeshLibp2p } from '../wire/libp2p-factory.ts'
import type { StreamLimits } from '../wire/stream-limits.ts'
import { ClosestPeers, SERVING_UNKNOWN } from './closest-peers.ts'
import { serializeDhtRecord } from './dht-record.ts'
import {
  type FencedWrite,
  putNewResultRecord,
  putResultRecord,
  readStoredResult,
  storedRecordsOf,
} from './fencing.ts'
import { PendingCopies } from './pending-copies.ts'
import { RecordKeeper } from './record-keeper.ts'
import { StoreOutbox } from './store-outbox.ts'
import type { UnsentRecords } from './unsent-records.ts'

/** Deadline of one {@link RecordReplicator.store} when the caller gives no signal, in ms. */
export const DEFAULT_STORE_TIMEOUT_MS = 10_000
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
  /** Peers that receive a copy of each record. @defaultValue DEFAULT_RECORD_COPIES */
  replicas?: number
  /** Protocol id the peers serve. @defaultValue REPLICATE_PROTOCOL */
  protocol?: string
  /** The node's inbound stream limits (idle deadline, shared byte budget). @defaultValue none */
  limits?: StreamLimits
  /** Markers of the records made here until a copy is out (a datastore on disk only). @defaultValue none */
  unsent?: UnsentRecords
}

/**
 * Stores result records in the DHT in batches. The local copy is written where kad-dht keeps its own
 * records (fenced: a record that loses the selector never replaces a stored one); copies go to the
 * `replicas` connected peers closest to each key over the replicate protocol: the records bound for
 * a peer in one turn of the event loop travel in one `store` frame, and the peer checks each (a
 * batch signature once), keeps it the same fenced way and answers with an outcome per record.
 * kad-dht's GET_VALUE serves every copy. The same object serves the protocol ({@link start}).
 */
export class RecordReplicator {
  private readonly libp2p: MeshLibp2p
  private readonly datastore: Datastore
  /** Peers that receive a copy of each record (0: none; records stay where they were made). */
  readonly replicas: number
  private readonly protocol: string
  private readonly closest: ClosestPeers
  private readonly roots: VerifiedRoots
  private readonly outbox: StoreOutbox
  private readonly keeper: RecordKeeper
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
  /** The records made here whose copies may not have left (told of every acknowledged copy). */
  readonly unsent: UnsentRecords | undefined

  constructor(opts: RecordReplicatorOptions) {
    this.libp2p = opts.libp2p
    this.datastore = opts.datastore
    this.unsent = opts.unsent
    this.replicas = opts.replicas ?? DEFAULT_RECORD_COPIES
    if (!Number.isInteger(this.replicas) || this.replicas < 0) {
      throw new RangeError(`replicas must be a whole number >= 0, got ${this.replicas}`)
    }
    this.protocol = opts.protocol ?? REPLICATE_PROTOCOL
    this.limits = opts.limits
    this.roots = opts.roots ?? new VerifiedRoots()
    this.closest = new ClosestPeers(this.libp2p, this.protocol)
    this.outbox = new StoreOutbox(this.libp2p, this.protocol, this.stopping.signal, (key) =>
      this.onSuperseded?.(key),
    )
    this.keeper = new RecordKeeper({
      ...{ datastore: this.datastore, roots: this.roots, closest: this.closest, outbox: this.outbox },
      ...{ stopping: this.stopping.signal, limits: this.limits, protocol: this.protocol },
    })
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.libp2p.addEventListener('peer:identify', this.onIdentify)
    // every store frame in flight (a bounded number) listens to it until its reply is in
    setMaxListeners(Number.POSITIVE_INFINITY, this.stopping.signal)
  }

  /** Serves the replicate protocol: peers store their records here. */
  async start(): Promise<void> {
    await this.libp2p.handle(
      this.protocol,
      (stream, connection) => this.keeper.serve(stream, connection.remotePeer),
      {
        maxInboundStreams: MAX_INBOUND_REPLICATE_STREAMS,
      },
    )
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
   * Writes the local copy of `value` (bytes, or its text) under `key` where kad-dht keeps and serves
   * it, unless a record stored there wins the selector (fencing; see `putResultRecord`).
   */
  async storeLocal(key: Uint8Array, value: Uint8Array | string, signal?: AbortSignal): Promise<FencedWrite> {
    const record = serializeDhtRecord(key, value)
    signal?.throwIfAborted()
    // a key nothing holds (nearly every record made or kept here): no compare, no lock
    const committed = putNewResultRecord(this.datastore, key, record.serialized, record.value)
    if (committed === undefined)
      return putResultRecord(this.datastore, key, record.serialized, { signal }, this.roots, record.value)
    await committed
    return { written: true, current: record.value }
  }

  /**
   * Settles once the index of the records this node stores has read the store (see
   * `StoredRecords.scan`): until then each record write reads the store first.
   */
  indexed(): Promise<void> {
    return storedRecordsOf(this.datastore)?.scanned ?? Promise.resolve()
  }

  /** The value stored locally under `key` (unverified), if any. */
  async readLocal(key: Uint8Array): Promise<Uint8Array | undefined> {
    return readStoredResult(this.datastore, key)
  }

  /**
   * Sends `value` to the closest connected peers only (the local copy is the caller's, see
   * {@link storeLocal}); resolves with how many acknowledged it. Each frame is bounded by
   * `STORE_FRAME_TIMEOUT_MS`; `signal` drops the record from frames not sent yet. Never rejects
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
    const now = this.closest.ofNow(key, this.replicas)
    const closest = now !== SERVING_UNKNOWN ? now : await this.closest.of(key, this.replicas)
    let carried = 0
    let sending = closest.length
    if (except !== undefined)
      for (const peer of closest)
        if (peer.toString() === except) {
          carried++
          sending--
        }
    if (sending === 0) return this.copied(key, carried)
    // one promise per record, whatever the number of peers: each acknowledgement counts itself
    return new Promise<number>((resolve) => {
      let copies = carried
      let waiting = sending
      const done = (acknowledged: boolean) => {
        if (acknowledged) copies++
        if (--waiting === 0) resolve(this.copied(key, copies))
      }
      for (let i = 0; i < closest.length; i++) {
        const peer = closest[i]
        if (except !== undefined && peer.toString() === except) continue
        // each passes it on toward the key's closest peers beyond this node's connections, unless
        // the peers closer than it that hold copies (`ahead`) are all the closer peers it has
        this.outbox.enqueue(peer, { key, value, signal, relay: this.ahead(closest, i), done })
      }
    })
  }

  /** Short ids of the first of `closest`, up to `at` (at most MAX_RELAY_AHEAD): the peers ahead of `closest[at]`. */
  private ahead(closest: readonly PeerId[], at: number): string[] {
    const ahead: string[] = []
    for (let i = 0; i < Math.min(at, MAX_RELAY_AHEAD); i++) ahead.push(this.closest.shortId(closest[i]))
    return ahead
  }

  /** `copies` of the record under `key` are held elsewhere now: one or more ends its marker. */
  private copied(key: Uint8Array, copies: number): number {
    if (copies > 0) this.unsent?.copiedUnder(key)
    return copies
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
    void this.unsent?.endNow()
    this.stopping.abort(new RpcAbortedError('replicator stopped'))
    this.outbox.stop()
    this.closest.stop()
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    this.libp2p.removeEventListener('peer:identify', this.onIdentify)
    if (this.serving) await this.libp2p.unhandle(this.protocol).catch(() => undefined)
  }

  /** A peer left: its session goes (a later copy for it opens a fresh one), and its empty outbox. */
  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.outbox.forget(evt.detail.toString())
  }

  /** A peer that serves the protocol came: the records no peer took go to it (and the others closest). */
  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    if (this.pending.size > 0 && evt.detail.protocols.includes(this.protocol)) void this.pending.flush()
  }
}

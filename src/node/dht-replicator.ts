import { createHash } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import type { PeerId, PeerUpdate, Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import { Libp2pRecord } from '@libp2p/record'
import type { Datastore } from 'interface-datastore'
import { Uint8ArrayList } from 'uint8arraylist'
import { compare, equals } from 'uint8arrays'
import { DHT_PROTOCOL, MAX_FRAME_BYTES } from '../protocol/constants.ts'
import { InvalidMessageError, RpcAbortedError, RpcClosedError } from '../protocol/errors.ts'
import { type FencedWrite, putResultRecord, readStoredResult } from './fencing.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'

export { DHT_RECORD_PREFIX, dhtRecordKey } from './fencing.ts'

/** Peers that receive a copy of each record (besides the local copy). */
export const DEFAULT_REPLICAS = 3
/** Deadline of one {@link DhtReplicator.store} when the caller gives no signal, in ms. */
export const DEFAULT_STORE_TIMEOUT_MS = 10_000
/** Tries per peer and record: the first on the current stream, the second on a fresh one. */
const ATTEMPTS_PER_PEER = 2
/**
 * Bytes written on one stream and not yet acknowledged. kad-dht's server buffers unread bytes up
 * to 4 MiB and resets the stream beyond that, so requests wait locally past this much.
 */
const MAX_IN_FLIGHT_BYTES = 1024 * 1024
/**
 * A stream idle for longer than this, in ms, is replaced rather than reused: kad-dht's server
 * closes a stream that brings no message for `incomingMessageTimeout` (10 s by default).
 */
const IDLE_REUSE_MS = 5_000
/** Longest opening a stream (and negotiating the protocol) may take, in ms. */
const OPEN_TIMEOUT_MS = 10_000
/** Longest a graceful close of a stream may take before it is aborted, in ms. */
const CLOSE_TIMEOUT_MS = 1_000

/** Field numbers of kad-dht's `Message` this module reads. */
const TYPE_FIELD = 1
const KEY_FIELD = 2
/** Protobuf tag of `Message.key` (field 2, length-delimited). */
const KEY_TAG = 0x12
/** Protobuf tag of `Message.record` (field 3, length-delimited). */
const RECORD_TAG = 0x1a
/** `Message.type` (field 1) of PUT_VALUE, the protobuf default: never written. */
const PUT_VALUE_TYPE = 0
/** Protobuf wire types used by kad-dht's `Message`. */
const WIRE_VARINT = 0
const WIRE_BYTES = 2
/** Most bytes of a varint this module reads (enough for any safe integer). */
const MAX_VARINT_BYTES = 8

// ------------------------------------------------------------------ wire

/** Bytes of the unsigned varint encoding of `n`. */
function varintLength(n: number): number {
  let bytes = 1
  for (let rest = n; rest >= 0x80; rest = Math.floor(rest / 0x80)) bytes++
  return bytes
}

/** Writes `n` as an unsigned varint at `pos`; returns the position after it. */
function writeVarint(out: Uint8Array, pos: number, n: number): number {
  let rest = n
  let at = pos
  while (rest >= 0x80) {
    out[at++] = (rest % 0x80) | 0x80
    rest = Math.floor(rest / 0x80)
  }
  out[at++] = rest
  return at
}

/**
 * Reads an unsigned varint at `pos` of `byteAt` (which returns `undefined` past the end).
 * @returns the value and the position after it, or `undefined` when the bytes end first.
 * @throws InvalidMessageError when the varint is longer than `MAX_VARINT_BYTES`.
 */
function readVarint(byteAt: (i: number) => number | undefined, pos: number): [number, number] | undefined {
  let value = 0
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const byte = byteAt(pos + i)
    if (byte === undefined) return undefined
    value += (byte & 0x7f) * 2 ** (7 * i)
    if (byte < 0x80) return [value, pos + i + 1]
  }
  throw new InvalidMessageError('kad-dht reply: varint too long')
}

/** Appends one length-delimited protobuf field; returns the position after it. */
function writeField(out: Uint8Array, pos: number, tag: number, bytes: Uint8Array): number {
  out[pos] = tag
  const at = writeVarint(out, pos + 1, bytes.byteLength)
  out.set(bytes, at)
  return at + bytes.byteLength
}

/**
 * Encodes kad-dht's PUT_VALUE request as one length-prefixed frame, as kad's `pbStream` writes it:
 * an unsigned varint length, then `Message { key = 2; record = 3 }` (`type` = PUT_VALUE is the
 * protobuf default and is left out).
 * @param record - a serialized `Libp2pRecord` for `key`.
 */
export function encodePutValueFrame(key: Uint8Array, record: Uint8Array): Uint8Array {
  const fieldBytes = (n: number) => 1 + varintLength(n) + n
  const body = fieldBytes(key.byteLength) + fieldBytes(record.byteLength)
  const frame = new Uint8Array(varintLength(body) + body)
  const pos = writeVarint(frame, 0, body)
  writeField(frame, writeField(frame, pos, KEY_TAG, key), RECORD_TAG, record)
  return frame
}

/**
 * True when `message` (one frame without its length prefix) is kad-dht's acknowledgement of a
 * PUT_VALUE for `key`: the server echoes the request.
 * @throws InvalidMessageError when the message is not valid protobuf of the fields kad-dht uses.
 */
export function isPutValueReply(message: Uint8Array, key: Uint8Array): boolean {
  const byteAt = (i: number) => (i < message.byteLength ? message[i] : undefined)
  const malformed = () => new InvalidMessageError('kad-dht reply: truncated or malformed protobuf')
  let type = PUT_VALUE_TYPE
  let replyKey: Uint8Array | undefined
  let pos = 0
  while (pos < message.byteLength) {
    const tag = readVarint(byteAt, pos)
    const value = tag === undefined ? undefined : readVarint(byteAt, tag[1])
    if (tag === undefined || value === undefined) throw malformed()
    const [field, wireType] = [Math.floor(tag[0] / 8), tag[0] % 8]
    pos = value[1]
    if (wireType === WIRE_VARINT) {
      if (field === TYPE_FIELD) type = value[0]
    } else if (wireType === WIRE_BYTES) {
      if (pos + value[0] > message.byteLength) throw malformed()
      if (field === KEY_FIELD) replyKey = message.subarray(pos, pos + value[0])
      pos += value[0]
    } else {
      throw malformed()
    }
  }
  return type === PUT_VALUE_TYPE && replyKey !== undefined && equals(replyKey, key)
}

/** Splits a byte stream into length-prefixed frames (unsigned varint lengths). */
class FrameReader {
  private readonly buffer = new Uint8ArrayList()

  constructor(private readonly maxBytes: number) {}

  /**
   * Adds received bytes and returns every frame now complete, in order.
   * @throws InvalidMessageError when a frame announces more than `maxBytes`.
   */
  push(chunk: Uint8Array | Uint8ArrayList): Uint8Array[] {
    this.buffer.append(chunk)
    const frames: Uint8Array[] = []
    for (;;) {
      const prefix = readVarint((i) => (i < this.buffer.byteLength ? this.buffer.get(i) : undefined), 0)
      if (prefix === undefined) return frames
      const [length, start] = prefix
      if (length > this.maxBytes) {
        throw new InvalidMessageError(`kad-dht reply: ${length} bytes, over the limit of ${this.maxBytes}`)
      }
      if (this.buffer.byteLength < start + length) return frames
      frames.push(this.buffer.subarray(start, start + length))
      this.buffer.consume(start + length)
    }
  }
}

// ------------------------------------------------------------------ helpers

/** kad-dht's id of a key or peer: SHA-256 of the bytes (kad's `convertBuffer`). */
function kadId(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

/** Kademlia XOR distance of two ids of equal length (compare results with `compare`). */
function xorDistance(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength)
  for (let i = 0; i < out.byteLength; i++) out[i] = a[i] ^ b[i]
  return out
}

/** `promise`, or a rejection with `signal.reason` if the signal aborts first. Never leaves a rejection unhandled. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}

// ------------------------------------------------------------------ one stream

interface PendingPut {
  key: Uint8Array
  frame: Uint8Array
  resolve: () => void
  reject: (err: Error) => void
}

/**
 * One outbound kad-dht stream to one peer carrying many PUT_VALUE requests: requests are written
 * in order (respecting backpressure and `MAX_IN_FLIGHT_BYTES`) and the server's echoes are matched
 * to them first-in first-out. Any failure (reset, remote close, bad reply) ends the stream and
 * rejects every request on it.
 */
class ReplicaStream {
  private readonly waiting: PendingPut[] = []
  private readonly inFlight: PendingPut[] = []
  private readonly reader = new FrameReader(MAX_FRAME_BYTES)
  private inFlightBytes = 0
  private draining = false
  private lastActivity = Date.now()
  private ended = false

  constructor(
    readonly peer: string,
    private readonly stream: Stream,
    private readonly onEnd: (s: ReplicaStream) => void,
  ) {
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('close', this.onClose)
    stream.addEventListener('remoteCloseWrite', this.onRemoteCloseWrite)
  }

  /** False once the stream ended, or when it sat idle long enough for the server to close it. */
  get usable(): boolean {
    if (this.ended || this.stream.status !== 'open' || this.stream.writeStatus !== 'writable') return false
    const busy = this.waiting.length > 0 || this.inFlight.length > 0
    return busy || Date.now() - this.lastActivity < IDLE_REUSE_MS
  }

  /**
   * Sends one PUT_VALUE frame; resolves when the peer acknowledged it (it validated and stored
   * the record). If `signal` aborts after the frame was written, the whole stream is aborted
   * (the peer is not answering; every request on it is rejected).
   */
  put(key: Uint8Array, frame: Uint8Array, signal: AbortSignal): Promise<void> {
    if (this.ended) return Promise.reject(new RpcClosedError('kad-dht stream ended'))
    if (signal.aborted) return Promise.reject(signal.reason)
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const queued = this.waiting.indexOf(pending)
        if (queued >= 0) {
          this.waiting.splice(queued, 1)
          pending.reject(signal.reason)
        } else {
          this.fail(signal.reason instanceof Error ? signal.reason : new RpcAbortedError('aborted'))
        }
      }
      const settle = () => signal.removeEventListener('abort', onAbort)
      const pending: PendingPut = {
        key,
        frame,
        resolve: () => {
          settle()
          resolve()
        },
        reject: (err) => {
          settle()
          reject(err)
        },
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiting.push(pending)
      this.pump()
    })
  }

  /** Rejects what is pending with `err` and closes the stream gracefully (aborts it if that fails). */
  shutdown(err: Error): void {
    if (!this.end(err)) return
    this.stream
      .close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) })
      .catch((closeErr: Error) => this.stream.abort(closeErr))
  }

  /** Rejects what is pending with `err` and aborts the stream. */
  fail(err: Error): void {
    if (this.end(err) && this.stream.status === 'open') this.stream.abort(err)
  }

  /** Writes waiting frames while the stream accepts them and the in-flight budget allows. */
  private pump(): void {
    while (!this.ended && !this.draining && this.waiting.length > 0) {
      const next = this.waiting[0]
      const over = this.inFlightBytes + next.frame.byteLength > MAX_IN_FLIGHT_BYTES
      if (over && this.inFlight.length > 0) return
      this.waiting.shift()
      this.inFlight.push(next)
      this.inFlightBytes += next.frame.byteLength
      this.lastActivity = Date.now()
      let accepted: boolean
      try {
        accepted = this.stream.send(next.frame)
      } catch (err) {
        this.fail(err as Error)
        return
      }
      if (!accepted) this.awaitDrain()
    }
  }

  private awaitDrain(): void {
    this.draining = true
    this.stream.onDrain().then(
      () => {
        this.draining = false
        this.pump()
      },
      (err: Error) => this.fail(err),
    )
  }

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    let frames: Uint8Array[]
    try {
      frames = this.reader.push(evt.data)
    } catch (err) {
      this.fail(err as Error)
      return
    }
    for (const frame of frames) this.onReply(frame)
    this.pump()
  }

  private onReply(frame: Uint8Array): void {
    const pending = this.inFlight.shift()
    if (pending === undefined) {
      this.fail(new InvalidMessageError('kad-dht reply: no request is waiting for it'))
      return
    }
    this.inFlightBytes -= pending.frame.byteLength
    this.lastActivity = Date.now()
    let error: Error | undefined
    try {
      if (!isPutValueReply(frame, pending.key)) {
        error = new InvalidMessageError('kad-dht reply: not the echo of the PUT_VALUE request')
      }
    } catch (err) {
      error = err as Error
    }
    if (error === undefined) {
      pending.resolve()
      return
    }
    pending.reject(error)
    this.fail(error)
  }

  private readonly onClose = (evt: StreamCloseEvent): void => {
    this.end(evt.error ?? new RpcClosedError('kad-dht stream closed'))
  }

  private readonly onRemoteCloseWrite = (): void => {
    this.fail(new RpcClosedError('kad-dht stream closed by the peer'))
  }

  /** Marks the stream ended and rejects every request on it. Returns false when it had ended already. */
  private end(err: Error): boolean {
    if (this.ended) return false
    this.ended = true
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('close', this.onClose)
    this.stream.removeEventListener('remoteCloseWrite', this.onRemoteCloseWrite)
    for (const pending of this.inFlight.splice(0)) pending.reject(err)
    for (const pending of this.waiting.splice(0)) pending.reject(err)
    this.inFlightBytes = 0
    this.onEnd(this)
    return true
  }
}

// ------------------------------------------------------------------ replicator

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

/** Options of {@link DhtReplicator}. */
export interface DhtReplicatorOptions {
  libp2p: MeshLibp2p
  /** The datastore libp2p (and so kad-dht) was created with: the local copy goes there. */
  datastore: Datastore
  /** Peers that receive a copy of each record. @defaultValue DEFAULT_REPLICAS */
  replicas?: number
  /** kad-dht protocol id the peers serve. @defaultValue DHT_PROTOCOL */
  protocol?: string
}

/**
 * Stores DHT records without kad-dht's iterative lookup: writes the record where kad-dht keeps
 * its own (so kad's GET_VALUE handler and `dht.get` find it), then sends kad-dht PUT_VALUE
 * requests to the `replicas` connected peers serving the DHT protocol that are closest to the key
 * by Kademlia distance, over one long-lived stream per peer with requests pipelined on it.
 *
 * Meant for small meshes where every peer is connected (the routing table holds everyone), so the
 * closest connected peers are the closest peers a lookup would find.
 */
export class DhtReplicator {
  private readonly libp2p: MeshLibp2p
  private readonly datastore: Datastore
  private readonly replicas: number
  private readonly protocol: string
  private readonly streams = new Map<string, ReplicaStream | Promise<ReplicaStream>>()
  /** Whether a connected peer serves `protocol` (entries removed when it disconnects). */
  private readonly speaks = new Map<string, boolean>()
  /** kad-dht ids (SHA-256 of the multihash) of connected peers. */
  private readonly peerIds = new Map<string, Uint8Array>()
  private readonly stopping = new AbortController()

  constructor(opts: DhtReplicatorOptions) {
    this.libp2p = opts.libp2p
    this.datastore = opts.datastore
    this.replicas = opts.replicas ?? DEFAULT_REPLICAS
    if (!Number.isInteger(this.replicas) || this.replicas < 0) {
      throw new RangeError(`replicas must be a whole number >= 0, got ${this.replicas}`)
    }
    this.protocol = opts.protocol ?? DHT_PROTOCOL
    this.libp2p.addEventListener('peer:update', this.onPeerUpdate)
    this.libp2p.addEventListener('peer:disconnect', this.onPeerDisconnect)
  }

  /**
   * Stores `value` under `key`: the local copy first, then one copy at each of the closest
   * connected DHT peers. A peer whose stream fails is tried once more on a fresh stream; peers that
   * refuse the record (kad-dht's validator) or do not answer before `signal` aborts count as not
   * acknowledged.
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
    setMaxListeners(Number.POSITIVE_INFINITY, signal)
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
    return putResultRecord(this.datastore, key, record, { signal })
  }

  /** The value stored locally under `key` (unverified), if any. */
  async readLocal(key: Uint8Array): Promise<Uint8Array | undefined> {
    return readStoredResult(this.datastore, key)
  }

  /**
   * Sends `value` to the closest connected DHT peers only (the local copy is the caller's, see
   * {@link storeLocal}); resolves with how many acknowledged it. Never rejects but after {@link stop}.
   */
  async replicate(
    key: Uint8Array,
    value: Uint8Array,
    signal: AbortSignal = AbortSignal.timeout(DEFAULT_STORE_TIMEOUT_MS),
  ): Promise<number> {
    if (this.stopping.signal.aborted) throw new RpcAbortedError('replicator stopped')
    setMaxListeners(Number.POSITIVE_INFINITY, signal)
    const record = new Libp2pRecord(key, value, new Date()).serialize()
    const peers = await this.closestPeers(key)
    if (peers.length === 0) return 0
    const frame = encodePutValueFrame(key, record)
    const acks = await Promise.all(peers.map((peer) => this.sendTo(peer, key, frame, signal)))
    return acks.filter(Boolean).length
  }

  /** Stops: rejects pending requests, closes every stream and stops listening to libp2p. Safe to call twice. */
  stop(): void {
    if (this.stopping.signal.aborted) return
    this.stopping.abort(new RpcAbortedError('replicator stopped'))
    this.libp2p.removeEventListener('peer:update', this.onPeerUpdate)
    this.libp2p.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    const reason = new RpcAbortedError('replicator stopped')
    // streams still opening are aborted (or shut down once open) by `open`
    for (const entry of this.streams.values()) if (entry instanceof ReplicaStream) entry.shutdown(reason)
    this.streams.clear()
    this.speaks.clear()
    this.peerIds.clear()
  }

  /** The `replicas` connected peers serving the protocol, closest to `key` first. */
  private async closestPeers(key: Uint8Array): Promise<PeerId[]> {
    const target = kadId(key)
    const peers = this.libp2p.getPeers()
    const serving = await Promise.all(peers.map((peer) => this.servesProtocol(peer)))
    return peers
      .filter((_, i) => serving[i])
      .map((peer) => ({ peer, distance: xorDistance(this.kadIdOf(peer), target) }))
      .sort((a, b) => compare(a.distance, b.distance))
      .slice(0, this.replicas)
      .map(({ peer }) => peer)
  }

  /** Whether `peer` serves the DHT protocol, from the peer store (cached until it disconnects). */
  private async servesProtocol(peer: PeerId): Promise<boolean> {
    const id = peer.toString()
    const known = this.speaks.get(id)
    if (known !== undefined) return known
    let protocols: string[] = []
    try {
      protocols = (await this.libp2p.peerStore.get(peer)).protocols
    } catch {
      // not in the peer store yet: identify will tell (see onPeerUpdate)
    }
    // a peer:update that arrived meanwhile is newer than what was read
    if (!this.speaks.has(id)) this.speaks.set(id, protocols.includes(this.protocol))
    return this.speaks.get(id) === true
  }

  private kadIdOf(peer: PeerId): Uint8Array {
    const id = peer.toString()
    let hash = this.peerIds.get(id)
    if (hash === undefined) {
      hash = kadId(peer.toMultihash().bytes)
      this.peerIds.set(id, hash)
    }
    return hash
  }

  /** Sends the frame to one peer, once more on a fresh stream if the first try fails. Never rejects. */
  private async sendTo(
    peer: PeerId,
    key: Uint8Array,
    frame: Uint8Array,
    signal: AbortSignal,
  ): Promise<boolean> {
    for (let attempt = 1; attempt <= ATTEMPTS_PER_PEER; attempt++) {
      if (signal.aborted || this.stopping.signal.aborted) return false
      try {
        const stream = await this.streamTo(peer, signal)
        await stream.put(key, frame, signal)
        return true
      } catch {
        // the stream ended (and left the map): the next try opens a fresh one
      }
    }
    return false
  }

  /** The open stream to `peer`, opening one when there is none (or it sat idle too long). */
  private async streamTo(peer: PeerId, signal: AbortSignal): Promise<ReplicaStream> {
    const id = peer.toString()
    for (;;) {
      const entry = this.streams.get(id)
      if (entry === undefined) return raceSignal(this.open(peer, id), signal)
      if (!(entry instanceof ReplicaStream)) return raceSignal(entry, signal)
      if (entry.usable) return entry
      entry.shutdown(new RpcClosedError('kad-dht stream idle'))
      this.forget(id, entry)
    }
  }

  /** Opens a stream to `peer` and records it (the opening promise stands in the map meanwhile). */
  private open(peer: PeerId, id: string): Promise<ReplicaStream> {
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(OPEN_TIMEOUT_MS)])
    const opening = this.libp2p.dialProtocol(peer, this.protocol, { signal }).then((raw) => {
      const stream = new ReplicaStream(id, raw, (s) => this.forget(s.peer, s))
      if (this.stopping.signal.aborted) stream.shutdown(new RpcAbortedError('replicator stopped'))
      else if (this.streams.get(id) === opening) this.streams.set(id, stream)
      return stream
    })
    this.streams.set(id, opening)
    opening.catch(() => this.forget(id, opening))
    return opening
  }

  /** Drops the map entry of `peer` if it is still `entry`. */
  private forget(peer: string, entry: ReplicaStream | Promise<ReplicaStream>): void {
    if (this.streams.get(peer) === entry) this.streams.delete(peer)
  }

  private readonly onPeerUpdate = (evt: CustomEvent<PeerUpdate>): void => {
    const id = evt.detail.peer.id.toString()
    if (this.speaks.has(id)) this.speaks.set(id, evt.detail.peer.protocols.includes(this.protocol))
  }

  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    this.speaks.delete(id)
    this.peerIds.delete(id)
  }
}

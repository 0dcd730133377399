import type { PeerId, Stream } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import { MAX_FRAME_BYTES } from '../../protocol/constants.ts'
import { arrayMemberSpans } from '../../protocol/messages/array-spans.ts'
import {
  type ReplicateReply,
  STORE_FRAME_DEPTH,
  type StoreOutcome,
  type StoreRequest,
  storeRequestSchema,
} from '../../protocol/messages/replicate-messages.ts'
import { openEnvelopeBytes, type SignedEnvelope } from '../../protocol/records/record-envelope.ts'
import { openEnvelopeText, resultKey } from '../../protocol/records/result-record.ts'
import type { VerifiedRoots } from '../../protocol/records/verified-roots.ts'
import { serveSession } from '../../protocol/rpc/rpc-session.ts'
import { mapInTurns } from '../../util/in-turns.ts'
import { abortReporter, type StreamLimits } from '../wire/stream-limits.ts'
import { type ClosestPeers, SERVING_UNKNOWN } from './closest-peers.ts'
import { type SerializedDhtRecord, serializeDhtRecord } from './dht-record.ts'
import { putNewResultRecord, putResultRecord } from './fencing.ts'
import type { StoreOutbox } from './store-outbox.ts'

const noop = () => undefined

/**
 * Longest a store frame's checks hold the event loop before it takes a turn, ms (a busy peer's
 * frames carry ~60 records, tens of milliseconds of checks: in one go they held the timers as long).
 */
export const STORE_TURN_MS = 2

/** What a {@link RecordKeeper} works with: the replicator's own parts. */
export interface RecordKeeperParts {
  /** The datastore kad-dht serves records from (fenced). */
  datastore: Datastore
  roots: VerifiedRoots
  closest: ClosestPeers
  /** Where relayed copies go out. */
  outbox: StoreOutbox
  /** Aborted when the replicator stops: nothing is relayed after. */
  stopping: AbortSignal
  limits: StreamLimits | undefined
  /** The protocol id served (in the reports of aborted streams). */
  protocol: string
}

/**
 * The serving side of the replicate protocol: checks the records of each `store` frame a peer
 * sends, keeps them (fenced) where kad-dht serves them, answers with an outcome per record, and
 * passes on the records the frame asks it to relay.
 */
export class RecordKeeper {
  constructor(private readonly parts: RecordKeeperParts) {}

  /** Serves one inbound replicate stream of peer `from` until it ends. */
  async serve(stream: Stream, from: PeerId): Promise<void> {
    await serveSession(stream, storeRequestSchema, (req, frame) => this.keep(req, from.toString(), frame), {
      maxBytes: MAX_FRAME_BYTES,
      what: 'store frame',
      maxDepth: STORE_FRAME_DEPTH,
      idleMs: this.parts.limits?.requestTimeoutMs,
      budget: this.parts.limits?.budget,
      onError: abortReporter(this.parts.limits, this.parts.protocol, from.toString()),
    })
  }

  /**
   * Checks and keeps each record of a `store` frame (fenced), one outcome per record; a kept record
   * the frame asks to relay goes on to the connected peer closest to its key, if that peer is
   * closer than this node (and is not the sender). A record whose key holds nothing here (nearly
   * all) joins the next batch of writes at once; the frame is answered once its batches are
   * committed (a record whose batch failed is answered `invalid`: not kept). The sender's own
   * records are kept as their bytes came in `frame` (no text made anew).
   */
  private async keep(req: StoreRequest, from: string, frame: Uint8Array): Promise<ReplicateReply> {
    const relay = new Map(req.relay?.map((index, j) => [index, req.ahead?.[j] ?? []]))
    // the bytes are looked for only when some record is the sender's own (a relayed frame's are not)
    const own = req.records.some((envelope) => envelope.record.executor === from)
    const found = own ? arrayMemberSpans(frame, 'records') : undefined
    const spans = found?.length === 2 * req.records.length ? found : undefined
    const batches: (Promise<void> | undefined)[] = []
    // a frame of tens of records takes milliseconds to check, and the node's timers wait meanwhile
    const kept = await mapInTurns(
      req.records,
      STORE_TURN_MS,
      (envelope, i): StoreOutcome | Promise<StoreOutcome> => {
        try {
          const bytes = spans === undefined ? undefined : frame.subarray(spans[2 * i], spans[2 * i + 1])
          const { key, stored } = this.opened(envelope, bytes, from)
          const ahead = relay.get(i)
          const committed = putNewResultRecord(this.parts.datastore, key, stored.serialized, stored.value)
          if (committed === undefined) return this.keepFenced(key, stored, from, ahead)
          batches[i] = committed
          if (ahead !== undefined) this.relayOn(key, stored.value, from, ahead)
          return 'stored'
        } catch {
          return 'invalid'
        }
      },
    )
    const failed = new Set<Promise<void>>()
    await Promise.all([...new Set(batches)].map((b) => b?.catch(() => failed.add(b))))
    const outcomes = await Promise.all(kept)
    for (let i = 0; i < batches.length; i++) {
      const batch = batches[i]
      if (batch !== undefined && failed.has(batch)) outcomes[i] = 'invalid'
    }
    return { type: 'stored', requestId: req.requestId, outcomes }
  }

  /**
   * The checks of a stored value (the sender's own batch on its word), and its stored form: for a
   * record of the sender's own, `bytes` (its value as it came: the stored form its signer made and
   * keeps), else its text written anew.
   * @throws InvalidRecordError when a check fails.
   */
  private opened(
    envelope: SignedEnvelope,
    bytes: Uint8Array | undefined,
    from: string,
  ): { key: Uint8Array; stored: SerializedDhtRecord } {
    if (bytes === undefined || envelope.record.executor !== from) {
      const { record, value } = openEnvelopeText(envelope, this.parts.roots, from)
      const key = resultKey(record.taskId)
      return { key, stored: serializeDhtRecord(key, value) }
    }
    const key = resultKey(openEnvelopeBytes(envelope, bytes, this.parts.roots, from).taskId)
    return { key, stored: serializeDhtRecord(key, bytes) }
  }

  /** Keeps a record whose key may hold one already: compared, under the key's lock. */
  private async keepFenced(
    key: Uint8Array,
    stored: SerializedDhtRecord,
    from: string,
    ahead: string[] | undefined,
  ): Promise<StoreOutcome> {
    try {
      const write = await putResultRecord(
        this.parts.datastore,
        key,
        stored.serialized,
        undefined,
        this.parts.roots,
        stored.value,
      )
      // a record held already went on from here before (or started here): no second chain
      if (write.written && write.again !== true && ahead !== undefined)
        this.relayOn(key, write.current, from, ahead)
      return write.written ? 'stored' : 'superseded'
    } catch {
      return 'invalid'
    }
  }

  /**
   * Passes a kept record on, one hop nearer its key: each hop is strictly closer, so the chain ends
   * — at a node with no connected peer closer to the key, near where a Kademlia lookup for it
   * arrives in a mesh of bounded degree. Each of the executor's copies starts a chain (one alone
   * ended beyond the key's 20 closest peers for 1.5 % of records at 100 nodes); in a complete mesh
   * none goes anywhere: the only closer peers hold the executor's copies.
   */
  private relayOn(key: Uint8Array, value: Uint8Array, from: string, ahead: string[]): void {
    // answered at once nearly always (no promise, no closure per record kept): none, in a full mesh
    const now = this.parts.closest.closerThanSelfNow(key, from, ahead)
    if (now !== SERVING_UNKNOWN) this.relayTo(now, key, value)
    else
      void this.parts.closest.closerThanSelf(key, from, ahead).then((p) => this.relayTo(p, key, value), noop)
  }

  private relayTo(next: PeerId | undefined, key: Uint8Array, value: Uint8Array): void {
    if (next !== undefined && !this.parts.stopping.aborted)
      this.parts.outbox.enqueue(next, { key, value, signal: undefined, relay: [], done: noop })
  }
}

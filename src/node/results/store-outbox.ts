import type { PeerId } from '@libp2p/interface'
import { FRAME_BUDGET_BYTES, MAX_FRAME_BYTES, MAX_RECORDS_PER_STORE } from '../../protocol/constants.ts'
import {
  encodeStoreFrame,
  type ReplicateReply,
  replicateReplySchema,
  type StoreOutcome,
} from '../../protocol/messages/replicate-messages.ts'
import { RpcSession } from '../../protocol/rpc/rpc-session.ts'
import { Batcher } from '../../util/batcher.ts'
import { frameChunks } from '../../util/frame-chunks.ts'
import type { MeshLibp2p } from '../wire/libp2p-factory.ts'

/** Deadline of one `store` frame's reply, in ms. */
export const STORE_FRAME_TIMEOUT_MS = 10_000
/**
 * Records bound for one peer wait this long, in ms, to travel together in one `store` frame. Copies
 * are for durability and polling: waiters hear of results from completions and notices (and the
 * executor serves its own copy at once), so the wait costs no latency and saves a frame per record.
 */
export const REPLICATE_WINDOW_MS = 100

/** One record bound for one peer. */
export interface Outgoing {
  key: Uint8Array
  /** The stored value (UTF-8 JSON), set into the frame as it is. */
  value: Uint8Array
  signal: AbortSignal | undefined
  /**
   * The receiver passes the record on to a connected peer closer to the key (see `relay`), other
   * than these (short ids of the peers closer than it that got the sender's copies: `ahead`);
   * undefined: it does not pass it on.
   */
  relay: string[] | undefined
  done(acknowledged: boolean): void
}

/** The `relay` and `ahead` fields of a `store` frame, when a record is to be passed on. */
function relayOf(items: Outgoing[]): { relay?: number[]; ahead?: string[][] } {
  const relay: number[] = []
  const ahead: string[][] = []
  items.forEach((item, i) => {
    if (item.relay === undefined) return
    relay.push(i)
    ahead.push(item.relay)
  })
  if (relay.length === 0) return {}
  return ahead.some((ids) => ids.length > 0) ? { relay, ahead } : { relay }
}

/**
 * The sending side of the replicate protocol: a queue per peer whose records travel together in
 * `store` frames (see {@link REPLICATE_WINDOW_MS}), on one session stream per peer.
 */
export class StoreOutbox {
  private readonly sessions = new Map<string, RpcSession<ReplicateReply>>()
  private readonly outboxes = new Map<string, Batcher<Outgoing>>()

  constructor(
    private readonly libp2p: MeshLibp2p,
    private readonly protocol: string,
    /** Aborted when the replicator stops: queued records fail, frames in flight are abandoned. */
    private readonly stopping: AbortSignal,
    /** A peer answered `superseded` for a record's key. */
    private readonly onSuperseded: (key: Uint8Array) => void,
  ) {}

  /** Queues a record for a peer; see {@link REPLICATE_WINDOW_MS}. */
  enqueue(peer: PeerId, item: Outgoing): void {
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
    const live = items.filter((item) => {
      const dropped = item.signal?.aborted === true || this.stopping.aborted
      if (dropped) item.done(false)
      return !dropped
    })
    for (const frame of frameChunks(
      live,
      (i) => i.value.byteLength,
      FRAME_BUDGET_BYTES,
      MAX_RECORDS_PER_STORE,
    )) {
      void this.send(peer, frame)
    }
  }

  /**
   * Sends one `store` frame; a record counts as acknowledged where the peer stored it. Each item's
   * `done` is called exactly once (it may count acknowledgements rather than settle a promise).
   */
  private async send(peer: PeerId, items: Outgoing[]): Promise<void> {
    let outcomes: readonly StoreOutcome[] = []
    try {
      const requestId = crypto.randomUUID()
      const encoded = encodeStoreFrame(
        requestId,
        items.map((i) => i.value),
        relayOf(items),
      )
      // storing a record again changes nothing: a frame cut short goes once more
      const options = { retry: true, encoded, timeoutMs: STORE_FRAME_TIMEOUT_MS }
      const reply = await this.sessionTo(peer).request({ type: 'store', requestId }, undefined, options)
      if (reply.type === 'stored') outcomes = reply.outcomes
    } catch {
      // none acknowledged
    }
    for (let i = 0; i < items.length; i++) items[i].done(outcomes[i] === 'stored')
    // the peer holds a record of the key that wins: this node's own copy is the losing one
    for (let i = 0; i < items.length; i++) {
      if (outcomes[i] !== 'superseded') continue
      try {
        this.onSuperseded(items[i].key)
      } catch {
        // the node's reaction failed: the copies were counted all the same
      }
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
        signal: this.stopping,
      })
      this.sessions.set(id, session)
    }
    return session
  }

  /** A peer left: its session goes (a later copy for it opens a fresh one), and its empty queue. */
  forget(id: string): void {
    this.sessions.get(id)?.close()
    this.sessions.delete(id)
    if (this.outboxes.get(id)?.size === 0) this.outboxes.delete(id)
  }

  /** Fails what is queued (the signal aborted) and closes every session. */
  stop(): void {
    for (const outbox of this.outboxes.values()) outbox.flushNow()
    this.outboxes.clear()
    for (const session of this.sessions.values()) session.close()
    this.sessions.clear()
  }
}

import type { PeerId } from '@libp2p/interface'
import { MAX_TASKS_PER_MESSAGE } from '../../protocol/constants.ts'
import type { FetchReply, FetchRequest } from '../../protocol/messages/fetch-messages.ts'
import { type ResultRecord, resultKey } from '../../protocol/records/result-record.ts'
import { fromBase64, toBase64 } from '../../util/base64.ts'
import { chunksOf } from '../../util/frame-chunks.ts'

/**
 * Peers a batch lookup asks per key, as a kad-dht lookup's own width: the `k` (20) peers closest to
 * the key. In a mesh of at most 21 nodes, every full node.
 */
export const LOOKUP_WIDTH = 20
/** Base64 characters of values one `fetched` reply carries at most (past it, the reply answers fewer ids). */
export const FETCH_REPLY_BUDGET = 1024 * 1024

/** What a {@link BatchLookup} works with. */
export interface BatchLookupParts {
  /** Sends a `fetch` frame to a peer. */
  request(peer: PeerId, frame: FetchRequest): Promise<FetchReply>
  /** The `count` connected peers serving the fetch protocol closest to `key`, closest first. */
  serving(key: Uint8Array, count: number): Promise<PeerId[]>
  /**
   * The `count` peers this node's routing table knows closest to `key` (kad-dht's own view): a key
   * whose closest known peers all answered has no record beyond them that a DHT lookup would find.
   * `undefined` when the table cannot tell: no task is then settled without a record.
   */
  known(key: Uint8Array, count: number): PeerId[] | undefined
  /** Checks a stored value as a reader must (9.4) and opens it. @throws when it is not valid. */
  open(value: Uint8Array, key: Uint8Array): ResultRecord
  /** @defaultValue LOOKUP_WIDTH */
  width?: number
}

/** Per peer asked: the tasks to ask about, and the ones it answered for. */
interface Asking {
  peer: PeerId
  ids: string[]
  answered: Set<string>
}

/**
 * Many result lookups at once, over the fetch protocol: each task's key is asked of the connected
 * peers closest to it, the tasks bound for a peer in frames of up to 1,000 — where a DHT lookup per
 * task cost its node 2–4 ms of CPU (kad-dht's query, a stream per peer asked). A record found is
 * checked as any reader checks it. A task has no record (`null`) only when every peer asked about
 * it answered and the routing table knows no closer peer than those: what a DHT lookup would have
 * asked. Any other task (a peer did not answer, a closer peer does not serve the protocol, no peer
 * at all) is left out of the answer: the caller looks it up in the DHT.
 */
export class BatchLookup {
  constructor(private readonly parts: BatchLookupParts) {}

  /**
   * A record of each task found (valid, not necessarily the one the selector picks among several),
   * `null` for each surely without one; the tasks not answered for are absent.
   */
  async lookUp(taskIds: readonly string[]): Promise<Map<string, ResultRecord | null>> {
    const width = this.parts.width ?? LOOKUP_WIDTH
    const asking = new Map<string, Asking>()
    const askedOf = new Map<string, PeerId[]>()
    for (const id of taskIds) {
      const peers = await this.parts.serving(resultKey(id), width)
      askedOf.set(id, peers)
      for (const peer of peers) {
        const key = peer.toString()
        let a = asking.get(key)
        if (a === undefined) {
          a = { peer, ids: [], answered: new Set() }
          asking.set(key, a)
        }
        a.ids.push(id)
      }
    }
    const found = new Map<string, ResultRecord>()
    await Promise.all([...asking.values()].map((a) => this.ask(a, found)))
    const out = new Map<string, ResultRecord | null>()
    for (const id of taskIds) {
      const record = found.get(id)
      if (record !== undefined) out.set(id, record)
      else if (this.settled(id, askedOf.get(id) ?? [], asking, width)) out.set(id, null)
    }
    return out
  }

  /** True when the peers asked about `id` all answered and include the closest the routing table knows. */
  private settled(id: string, asked: PeerId[], asking: Map<string, Asking>, width: number): boolean {
    if (asked.length === 0) return false
    const names = new Set(asked.map(String))
    for (const peer of asked) if (asking.get(peer.toString())?.answered.has(id) !== true) return false
    return this.parts.known(resultKey(id), width)?.every((p) => names.has(p.toString())) === true
  }

  /** Asks one peer about its tasks, frame after frame, until it answered for all or failed. */
  private async ask(a: Asking, found: Map<string, ResultRecord>): Promise<void> {
    let left = a.ids
    while (left.length > 0) {
      const ids = left.slice(0, MAX_TASKS_PER_MESSAGE)
      let reply: FetchReply
      try {
        reply = await this.parts.request(a.peer, { type: 'fetch', requestId: crypto.randomUUID(), ids })
      } catch {
        return // its tasks stay unanswered by it
      }
      if (reply.type !== 'fetched' || reply.upTo === 0) return
      // a value that is not a valid record of its task is no answer: a DHT lookup decides that task
      const invalid = new Set<string>()
      for (const { index, value } of reply.held) {
        const id = ids[index]
        if (found.has(id)) continue
        try {
          found.set(id, this.parts.open(fromBase64(value), resultKey(id)))
        } catch {
          invalid.add(id)
        }
      }
      for (let i = 0; i < reply.upTo; i++) if (!invalid.has(ids[i])) a.answered.add(ids[i])
      left = left.slice(reply.upTo)
    }
  }
}

/**
 * Answers a peer's `fetch` from the records stored here (`read`: the stored value under a key,
 * unverified: the asker checks it): every id asked, or the first ones whose values fit in
 * {@link FETCH_REPLY_BUDGET}, at least one.
 */
export async function answerFetch(
  frame: FetchRequest,
  read: (key: Uint8Array) => Promise<Uint8Array | undefined>,
  budget = FETCH_REPLY_BUDGET,
): Promise<FetchReply> {
  const held: Array<{ index: number; value: string }> = []
  let chars = 0
  let upTo = 0
  for (const chunk of chunksOf(frame.ids, 64)) {
    const values = await Promise.all(chunk.map((id) => read(resultKey(id)).catch(() => undefined)))
    for (const value of values) {
      if (value !== undefined) {
        const text = toBase64(value)
        if (upTo > 0 && chars + text.length > budget)
          return { type: 'fetched', requestId: frame.requestId, upTo, held }
        chars += text.length
        held.push({ index: upTo, value: text })
      }
      upTo++
    }
  }
  return { type: 'fetched', requestId: frame.requestId, upTo, held }
}

import type { PeerId } from '@libp2p/interface'
import { equals } from 'uint8arrays'
import { MAX_TASKS_PER_MESSAGE } from '../../protocol/constants.ts'
import type { FetchReply, FetchRequest } from '../../protocol/messages/fetch-messages.ts'
import { type ResultRecord, resultKey } from '../../protocol/records/result-record.ts'
import { resultSelector } from '../../protocol/records/result-selector.ts'
import { fromBase64, toBase64 } from '../../util/base64.ts'
import { chunksOf } from '../../util/frame-chunks.ts'

/**
 * Peers a batch lookup asks per key, as a kad-dht lookup's own width: the `k` (20) peers closest to
 * the key. In a mesh of at most 21 nodes, every full node.
 */
export const LOOKUP_WIDTH = 20
/** Reads of a node's store at once (its own lookup, a peer's `fetch`). */
const STORE_READS = 64
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
  /**
   * The value stored here under `key`, if any: a lookup counts this node's own copy, as a DHT get
   * does. @defaultValue none
   */
  local?(key: Uint8Array): Promise<Uint8Array | undefined>
  /** Checks a stored value as a reader must (9.4) and opens it. @throws when it is not valid. */
  open(value: Uint8Array, key: Uint8Array): ResultRecord
  /** The index of the value the selector picks among valid ones (9.5). @defaultValue `resultSelector` */
  select?(key: Uint8Array, values: Uint8Array[]): number
  /** @defaultValue LOOKUP_WIDTH */
  width?: number
}

/** A record found: the one the selector picks among the valid values the peers hold, and its value. */
export interface FoundRecord {
  record: ResultRecord
  value: Uint8Array
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
 * checked as any reader checks it, and this node's own copy counts too (as a DHT get reads it). A
 * task has no record (`null`) only when this node holds none and every peer asked about
 * it answered and the routing table knows no closer peer than those: what a DHT lookup would have
 * asked. Any other task (a peer did not answer, a closer peer does not serve the protocol, no peer
 * at all) is left out of the answer: the caller looks it up in the DHT.
 */
export class BatchLookup {
  constructor(private readonly parts: BatchLookupParts) {}

  /**
   * The record of each task found (the selector's pick among the valid values the peers hold),
   * `null` for each surely without one; the tasks not answered for are absent.
   */
  async lookUp(taskIds: readonly string[]): Promise<Map<string, FoundRecord | null>> {
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
    const found = new Map<string, FoundRecord[]>()
    await Promise.all([
      this.readLocal(taskIds, found),
      ...[...asking.values()].map((a) => this.ask(a, found)),
    ])
    const out = new Map<string, FoundRecord | null>()
    for (const id of taskIds) {
      const records = found.get(id)
      if (records !== undefined) out.set(id, this.best(id, records))
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

  /** Adds the valid records of `taskIds` this node stores itself to `found`. */
  private async readLocal(taskIds: readonly string[], found: Map<string, FoundRecord[]>): Promise<void> {
    const { local } = this.parts
    if (local === undefined) return
    for await (const [id, value] of storedValues(taskIds, local)) {
      if (value !== undefined) this.note(id, value, found)
    }
  }

  /**
   * Adds `value` to the records found for task `id` once checked (a value found before is not
   * checked again). @returns false when it is not a valid record of the task.
   */
  private note(id: string, value: Uint8Array, found: Map<string, FoundRecord[]>): boolean {
    const known = found.get(id)
    if (known?.some((f) => equals(f.value, value)) === true) return true
    try {
      const record = { record: this.parts.open(value, resultKey(id)), value }
      if (known === undefined) found.set(id, [record])
      else known.push(record)
      return true
    } catch {
      return false
    }
  }

  /** The selector's pick among the valid records found for task `id` (distinct values only). */
  private best(id: string, records: FoundRecord[]): FoundRecord {
    const distinct = records.filter((r, i) => records.findIndex((o) => equals(o.value, r.value)) === i)
    if (distinct.length === 1) return distinct[0]
    const select = this.parts.select ?? resultSelector
    return distinct[
      select(
        resultKey(id),
        distinct.map((r) => r.value),
      )
    ]
  }

  /** Asks one peer about its tasks, frame after frame, until it answered for all or failed. */
  private async ask(a: Asking, found: Map<string, FoundRecord[]>): Promise<void> {
    // a value that is not a valid record of its task is no answer: a DHT lookup decides that task
    const invalid = new Set<string>()
    const { answered } = await fetchFrom(
      (frame) => this.parts.request(a.peer, frame),
      a.ids,
      (id, value) => {
        if (!this.note(id, value, found)) invalid.add(id)
      },
    )
    for (const id of answered) if (!invalid.has(id)) a.answered.add(id)
  }
}

/**
 * Asks one peer about `ids` with `request`, frame after frame (each of up to 1,000 ids, again for
 * the ids a reply past its budget left out), and hands on each value it holds (unverified).
 * @returns the ids it answered for, and those left unanswered when a request failed or a reply
 *   answered for none.
 */
export async function fetchFrom(
  request: (frame: FetchRequest) => Promise<FetchReply>,
  ids: readonly string[],
  held: (id: string, value: Uint8Array) => void,
): Promise<{ answered: string[]; left: string[] }> {
  const answered: string[] = []
  let left = ids.slice()
  while (left.length > 0) {
    const asked = left.slice(0, MAX_TASKS_PER_MESSAGE)
    const reply = await request({ type: 'fetch', requestId: crypto.randomUUID(), ids: asked }).catch(
      () => undefined,
    )
    if (reply?.type !== 'fetched' || reply.upTo === 0) break
    for (const { index, value } of reply.held) held(asked[index], fromBase64(value))
    answered.push(...asked.slice(0, reply.upTo))
    left = left.slice(reply.upTo)
  }
  return { answered, left }
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
  for await (const [, value] of storedValues(frame.ids, read)) {
    if (value !== undefined) {
      const text = toBase64(value)
      if (upTo > 0 && chars + text.length > budget) break
      chars += text.length
      held.push({ index: upTo, value: text })
    }
    upTo++
  }
  return { type: 'fetched', requestId: frame.requestId, upTo, held }
}

/**
 * The value stored under each task's key (`read`; a failed read counts as none), in order, read
 * {@link STORE_READS} at a time.
 */
async function* storedValues(
  taskIds: readonly string[],
  read: (key: Uint8Array) => Promise<Uint8Array | undefined>,
): AsyncGenerator<[string, Uint8Array | undefined]> {
  for (const chunk of chunksOf(taskIds, STORE_READS)) {
    const values = await Promise.all(chunk.map((id) => read(resultKey(id)).catch(() => undefined)))
    for (let i = 0; i < chunk.length; i++) yield [chunk[i], values[i]]
  }
}

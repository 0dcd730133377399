import type { AbortOptions } from '@libp2p/interface'
import type { Batch, Datastore, Key, KeyQuery, Pair, Query } from 'interface-datastore'
import { trimOldest } from '../../util/trim-oldest.ts'

/** Peer-store entries kept in memory at most (a node keeps a bounded number of peers). */
export const DEFAULT_PEER_CACHE_ENTRIES = 4_096

const PEERS_PREFIX = '/peers/'

/**
 * A peer-store entry that differs from the one written only by a later `updated` stamp, less than
 * this much later, is not written again, ms (the peer store forgets a peer after 6 h unheard).
 */
export const PEER_STAMP_REWRITE_MS = 60_000

/** Field 8 (`updated`, a varint), as libp2p's peer store encodes it: the last field of an entry. */
const UPDATED_TAG = 0x40

/** Where an entry's trailing `updated` field starts, and its value; undefined when it has none. */
function stamp(entry: Uint8Array): { at: number; updated: number } | undefined {
  let at = entry.length - 1
  if (at < 1 || entry[at] >= 0x80) return undefined
  do at--
  while (at >= 0 && entry[at] >= 0x80)
  if (at < 0 || entry[at] !== UPDATED_TAG) return undefined
  let updated = 0
  for (let i = entry.length - 1; i > at; i--) updated = updated * 128 + (entry[i] & 0x7f)
  return { at, updated }
}

/**
 * True when `next` is `held` with only its `updated` stamp later, by less than `withinMs`. The peer
 * store writes each merge with a fresh stamp (`#saveIfDifferent` always writes): every peer a DHT
 * response names cost a LevelDB write, ~5 % of a lookup's CPU on a replay of 20,000 tasks.
 */
export function onlyRestamped(held: Uint8Array, next: Uint8Array, withinMs: number): boolean {
  const a = stamp(held)
  const b = stamp(next)
  if (a === undefined || b === undefined || a.at !== b.at) return false
  const later = b.updated - a.updated
  if (!(later >= 0 && later < withinMs)) return false
  for (let i = 0; i < a.at; i++) if (held[i] !== next[i]) return false
  return true
}

/**
 * A datastore that keeps the peer store's entries (`/peers/…`) in memory as well, written through.
 * libp2p's peer store reads a peer's entry from the datastore on every `get`, and on every `merge`
 * (each new stream, each peer a DHT message names) before it writes: on LevelDB that was a read
 * per call, the largest datastore cost of a busy node. Every write, delete and batch goes to the
 * wrapped store first and updates the copy after, so a read here sees what the store holds.
 * Other keys pass straight through.
 */
export class PeerRecordCache implements Datastore {
  private readonly entries = new Map<string, Uint8Array>()

  constructor(
    private readonly inner: Datastore,
    private readonly maxEntries = DEFAULT_PEER_CACHE_ENTRIES,
  ) {}

  private keep(key: Key, value: Uint8Array): void {
    const id = key.toString()
    if (!id.startsWith(PEERS_PREFIX)) return
    this.entries.delete(id) // re-inserted last: the oldest entries go first
    this.entries.set(id, value)
    trimOldest(this.entries, this.maxEntries)
  }

  private forget(key: Key): void {
    this.entries.delete(key.toString())
  }

  async has(key: Key, options?: AbortOptions): Promise<boolean> {
    return this.entries.has(key.toString()) || this.inner.has(key, options)
  }

  async get(key: Key, options?: AbortOptions): Promise<Uint8Array> {
    const cached = this.entries.get(key.toString())
    if (cached !== undefined) return cached
    const value = await this.inner.get(key, options)
    this.keep(key, value)
    return value
  }

  /**
   * Writes through, except a peer entry that only restamps the one held (`onlyRestamped`): the
   * store keeps the earlier stamp, at most {@link PEER_STAMP_REWRITE_MS} older.
   */
  async put(key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    const held = this.entries.get(key.toString())
    if (held !== undefined && onlyRestamped(held, value, PEER_STAMP_REWRITE_MS)) return key
    this.forget(key) // a failed write leaves no copy that the store lacks
    const written = await this.inner.put(key, value, options)
    this.keep(key, value)
    return written
  }

  async delete(key: Key, options?: AbortOptions): Promise<void> {
    this.forget(key)
    await this.inner.delete(key, options)
    this.forget(key) // a read that raced the delete may have kept the old value
  }

  async *putMany(source: Iterable<Pair> | AsyncIterable<Pair>, options?: AbortOptions) {
    const values = new Map<string, Uint8Array>()
    const self = this
    async function* noted() {
      for await (const pair of source) {
        self.forget(pair.key)
        values.set(pair.key.toString(), pair.value)
        yield pair
      }
    }
    for await (const key of this.inner.putMany(noted(), options)) {
      const value = values.get(key.toString())
      if (value !== undefined) this.keep(key, value)
      yield key
    }
  }

  getMany(source: Iterable<Key> | AsyncIterable<Key>, options?: AbortOptions) {
    return this.inner.getMany(source, options)
  }

  async *deleteMany(source: Iterable<Key> | AsyncIterable<Key>, options?: AbortOptions) {
    const self = this
    async function* noted() {
      for await (const key of source) {
        self.forget(key)
        yield key
      }
    }
    for await (const key of this.inner.deleteMany(noted(), options)) {
      this.forget(key)
      yield key
    }
  }

  batch(): Batch {
    const inner = this.inner.batch()
    const puts = new Map<string, [Key, Uint8Array]>()
    const deletes: Key[] = []
    return {
      // a batch of result records (nearly every batch) passes through: no entry of them is kept
      put: (key, value) => {
        const id = key.toString()
        if (id.startsWith(PEERS_PREFIX)) {
          this.entries.delete(id)
          puts.set(id, [key, value])
        }
        inner.put(key, value)
      },
      delete: (key) => {
        const id = key.toString()
        if (id.startsWith(PEERS_PREFIX)) {
          this.entries.delete(id)
          puts.delete(id)
          deletes.push(key)
        }
        inner.delete(key)
      },
      commit: async (options) => {
        await inner.commit(options)
        for (const key of deletes) this.forget(key)
        for (const [key, value] of puts.values()) this.keep(key, value)
      },
    }
  }

  query(query: Query, options?: AbortOptions) {
    return this.inner.query(query, options)
  }

  queryKeys(query: KeyQuery, options?: AbortOptions) {
    return this.inner.queryKeys(query, options)
  }
}

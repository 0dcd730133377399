import type { AbortOptions } from '@libp2p/interface'
import type { Batch, Datastore, Key, KeyQuery, Pair, Query } from 'interface-datastore'
import { TextKey } from '../../util/text-key.ts'

/** What a node asked of its datastore, for one namespace of keys. */
export interface DatastoreCounts {
  has: number
  get: number
  /** Keys written: `put`, each pair of `putMany`, each put in a committed batch. */
  put: number
  delete: number
  /** Batches committed that wrote or deleted a key of this namespace. */
  batches: number
  queries: number
  bytesWritten: number
}

/** The namespaces the node's datastore holds: kad-dht records (result records), the peer store, the rest. */
export type DatastoreNamespace = 'records' | 'peers' | 'other'

/** Counts of a datastore asked nothing yet. */
export function createDatastoreCounts(): DatastoreCounts {
  return { has: 0, get: 0, put: 0, delete: 0, batches: 0, queries: 0, bytesWritten: 0 }
}

const prefixBytes = (text: string) => new TextEncoder().encode(text)
const RECORDS = prefixBytes('/dht/record/')
const PEERS = prefixBytes('/peers/')

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.byteLength < prefix.byteLength) return false
  for (let i = 0; i < prefix.byteLength; i++) if (bytes[i] !== prefix[i]) return false
  return true
}

/**
 * A datastore that counts what is asked of the one it wraps, per namespace (by comparing the key's
 * first bytes: no string is built per call), and otherwise passes every call through.
 */
export class CountingDatastore implements Datastore {
  readonly counts: Record<DatastoreNamespace, DatastoreCounts> = {
    records: createDatastoreCounts(),
    peers: createDatastoreCounts(),
    other: createDatastoreCounts(),
  }

  constructor(private readonly inner: Datastore) {}

  private of(key: Key): DatastoreCounts {
    // a key that keeps its text is read as text (its bytes may be in memory no longer warm)
    if (key instanceof TextKey) {
      const text = key.toString()
      if (text.startsWith('/dht/record/')) return this.counts.records
      return text.startsWith('/peers/') ? this.counts.peers : this.counts.other
    }
    const bytes = key.uint8Array()
    if (startsWith(bytes, RECORDS)) return this.counts.records
    if (startsWith(bytes, PEERS)) return this.counts.peers
    return this.counts.other
  }

  private ofPrefix(prefix: string | undefined): DatastoreCounts {
    if (prefix?.startsWith('/dht/record')) return this.counts.records
    if (prefix?.startsWith('/peers')) return this.counts.peers
    return this.counts.other
  }

  private wrote(key: Key, value: Uint8Array): void {
    const c = this.of(key)
    c.put++
    c.bytesWritten += value.byteLength
  }

  has(key: Key, options?: AbortOptions) {
    this.of(key).has++
    return this.inner.has(key, options)
  }

  get(key: Key, options?: AbortOptions) {
    this.of(key).get++
    return this.inner.get(key, options)
  }

  put(key: Key, value: Uint8Array, options?: AbortOptions) {
    this.wrote(key, value)
    return this.inner.put(key, value, options)
  }

  delete(key: Key, options?: AbortOptions) {
    this.of(key).delete++
    return this.inner.delete(key, options)
  }

  async *putMany(source: Iterable<Pair> | AsyncIterable<Pair>, options?: AbortOptions) {
    const self = this
    async function* counted() {
      for await (const pair of source) {
        self.wrote(pair.key, pair.value)
        yield pair
      }
    }
    yield* this.inner.putMany(counted(), options)
  }

  async *getMany(source: Iterable<Key> | AsyncIterable<Key>, options?: AbortOptions) {
    for await (const pair of this.inner.getMany(source, options)) {
      this.of(pair.key).get++
      yield pair
    }
  }

  async *deleteMany(source: Iterable<Key> | AsyncIterable<Key>, options?: AbortOptions) {
    for await (const key of this.inner.deleteMany(source, options)) {
      this.of(key).delete++
      yield key
    }
  }

  batch(): Batch {
    const inner = this.inner.batch()
    // what the batch does, per namespace, added to the counts once it is committed
    const tallies = new Map<DatastoreCounts, { put: number; delete: number; bytes: number }>()
    const tally = (key: Key) => {
      const counts = this.of(key)
      let t = tallies.get(counts)
      if (t === undefined) {
        t = { put: 0, delete: 0, bytes: 0 }
        tallies.set(counts, t)
      }
      return t
    }
    return {
      put: (key, value) => {
        const t = tally(key)
        t.put++
        t.bytes += value.byteLength
        inner.put(key, value)
      },
      delete: (key) => {
        tally(key).delete++
        inner.delete(key)
      },
      commit: async (options) => {
        // a batch counts once in each namespace it writes to
        for (const [counts, t] of tallies) {
          counts.batches++
          counts.put += t.put
          counts.delete += t.delete
          counts.bytesWritten += t.bytes
        }
        await inner.commit(options)
      },
    }
  }

  query(query: Query, options?: AbortOptions) {
    this.ofPrefix(query.prefix).queries++
    return this.inner.query(query, options)
  }

  queryKeys(query: KeyQuery, options?: AbortOptions) {
    this.ofPrefix(query.prefix).queries++
    return this.inner.queryKeys(query, options)
  }
}

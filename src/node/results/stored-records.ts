import type { Datastore } from 'interface-datastore'

/** Bits of the filter of stored keys: 1 MiB, about 2 % false positives at a million records. */
export const STORED_FILTER_BITS = 2 ** 23
/** Probes per key in the filter. */
const PROBES = 6
/** Values of the records written or read last, kept to fence the next write of the same key. */
export const RECENT_RECORDS = 4_096

/** FNV-1a over the UTF-16 code units of `text`, from `seed`. */
function fnv1a(text: string, seed: number): number {
  let h = seed
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * What a node knows of the result records in its datastore without reading it, so a fenced write
 * (compare with the stored record, then write) of a record not stored yet — nearly every write —
 * reads nothing:
 *
 * - a Bloom filter of every record key written since start, plus every key found by one scan of
 *   the store at start: a key it does not hold is surely not stored (once the scan is `complete`);
 *   a key it holds may be (a false positive costs one read, as before);
 * - the values of the last {@link RECENT_RECORDS} records written or read, so the next write of
 *   the same key (a replica of a record kept here, a later epoch) compares without a read.
 *
 * Memory is bounded (1 MiB plus the recent values) whatever the number of records stored.
 */
export class StoredRecords {
  private readonly bits = new Uint32Array(STORED_FILTER_BITS / 32)
  /** Recent values in two generations: a full `recent` becomes `older` (no per-entry eviction). */
  private recent = new Map<string, Uint8Array>()
  private older = new Map<string, Uint8Array>()
  /** True once every key stored before this node started is in the filter. */
  complete = false
  /** Settles when the scan of the store at start has ended (see {@link scan}). */
  scanned: Promise<void> = Promise.resolve()

  /** True when the record of datastore key `id` may be stored (false: surely not). */
  mayHold(id: string): boolean {
    if (!this.complete) return true
    const h1 = fnv1a(id, 0x811c9dc5)
    const h2 = fnv1a(id, 0x01000193) | 1
    for (let i = 0; i < PROBES; i++) {
      const bit = ((h1 + Math.imul(i, h2)) >>> 0) & (STORED_FILTER_BITS - 1)
      if ((this.bits[bit >>> 5] & (1 << (bit & 31))) === 0) return false
    }
    return true
  }

  /** The value stored under `id` when it is one of the recent ones. */
  recentValue(id: string): Uint8Array | undefined {
    return this.recent.get(id) ?? this.older.get(id)
  }

  /** A record key is stored (written now, or found by the scan); `value` when known. */
  noteStored(id: string, value?: Uint8Array): void {
    const h1 = fnv1a(id, 0x811c9dc5)
    const h2 = fnv1a(id, 0x01000193) | 1
    for (let i = 0; i < PROBES; i++) {
      const bit = ((h1 + Math.imul(i, h2)) >>> 0) & (STORED_FILTER_BITS - 1)
      this.bits[bit >>> 5] |= 1 << (bit & 31)
    }
    this.forget(id)
    if (value === undefined) return
    if (this.recent.size >= RECENT_RECORDS / 2) {
      this.older = this.recent
      this.recent = new Map()
    }
    this.recent.set(id, value)
  }

  /** A record key was deleted or written without its value known here: read it next time. */
  forget(id: string): void {
    this.recent.delete(id)
    this.older.delete(id)
  }

  /** Puts every record key stored under `prefix` into the filter, then counts it `complete`. */
  scan(datastore: Datastore, prefix: string): Promise<void> {
    this.scanned = (async () => {
      for await (const key of datastore.queryKeys({ prefix })) this.noteStored(key.toString())
      this.complete = true
    })()
    return this.scanned
  }
}

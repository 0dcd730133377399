import type { Datastore } from 'interface-datastore'
import { ownBytes } from '../../util/own-bytes.ts'

/** Bits of the filter of stored keys: 1 MiB, about 2–3 % false positives at a million records. */
export const STORED_FILTER_BITS = 2 ** 23
/** Probes per key in the filter, all in one block of {@link BLOCK_BITS}. */
const PROBES = 6
/** Bits of a block: one 64-byte cache line, so a probe of a key touches one line, not six. */
const BLOCK_BITS = 512
/** Values of the records written or read last, kept to fence the next write of the same key. */
export const RECENT_RECORDS = 4_096
/**
 * Characters of a key the filter hashes, from its end: a record key is the base32 of
 * `/taskmesh/result/<task id>`, so its last 32 characters encode the task id's last 20 — themselves
 * base32 of a SHA-256 digest, about 100 bits of it (a shorter key is hashed whole). A Bloom filter
 * never misses a key whatever its hash; a weak one only costs reads.
 */
const HASHED_CHARS = 32

/** The filter's hash of `id`: FNV-1a over the UTF-16 code units of its last {@link HASHED_CHARS}. */
function hashOf(id: string): number {
  let h = 0x811c9dc5
  for (let i = Math.max(0, id.length - HASHED_CHARS); i < id.length; i++) {
    h ^= id.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  // a final mix (murmur3's), so the block and the probes in it take different bits
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** First word of the block of hash `h` in the filter's words (its low 14 bits). */
const blockOf = (h: number): number => (h & (STORED_FILTER_BITS / BLOCK_BITS - 1)) * (BLOCK_BITS / 32)
/** A second hash of a key, from its first (the probes' steps, independent of the block). */
function stepOf(h: number): number {
  let g = Math.imul(h ^ 0x9e3779b9, 0x85ebca6b)
  g ^= g >>> 15
  g = Math.imul(g, 0xc2b2ae35)
  return (g ^ (g >>> 16)) >>> 0
}
/** Bit `i` of a key's probes within its block: double hashing on the bits the block did not use. */
const probeOf = (h: number, g: number, i: number): number =>
  ((h >>> 14) + Math.imul(i, g | 1)) & (BLOCK_BITS - 1)

/**
 * What a node knows of the result records in its datastore without reading it, so a fenced write
 * (compare with the stored record, then write) of a record not stored yet — nearly every write —
 * reads nothing:
 *
 * - a (blocked) Bloom filter of every record key written since start, plus every key found by one scan of
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
    const h = hashOf(id)
    const g = stepOf(h)
    const block = blockOf(h)
    for (let i = 0; i < PROBES; i++) {
      const bit = probeOf(h, g, i)
      if ((this.bits[block + (bit >>> 5)] & (1 << (bit & 31))) === 0) return false
    }
    return true
  }

  /**
   * Notes that the record of `id` may be stored from now on (a write of it starts) and returns
   * true when, before, it surely was not — nor claimed by another write (once the scan is
   * `complete`; false before then). One pass over the key's probes where {@link mayHold} then
   * {@link noteStored} made two; the write that claimed the key then notes its value alone
   * ({@link noteValue}).
   */
  claim(id: string): boolean {
    const h = hashOf(id)
    const g = stepOf(h)
    const block = blockOf(h)
    let absent = false
    for (let i = 0; i < PROBES; i++) {
      const bit = probeOf(h, g, i)
      const word = block + (bit >>> 5)
      const mask = 1 << (bit & 31)
      if ((this.bits[word] & mask) === 0) {
        absent = true
        this.bits[word] |= mask
      }
    }
    return absent && this.complete
  }

  /** The value stored under `id` when it is one of the recent ones. */
  recentValue(id: string): Uint8Array | undefined {
    return this.recent.get(id) ?? this.older.get(id)
  }

  /** A record key is stored (written now, or found by the scan); `value` when known. */
  noteStored(id: string, value?: Uint8Array): void {
    const h = hashOf(id)
    const g = stepOf(h)
    const block = blockOf(h)
    for (let i = 0; i < PROBES; i++) {
      const bit = probeOf(h, g, i)
      this.bits[block + (bit >>> 5)] |= 1 << (bit & 31)
    }
    if (value === undefined) this.forget(id)
    else this.noteValue(id, value)
  }

  /**
   * The value now stored under `id`, a key already in the filter (claimed by the write that stored
   * it, see {@link claim}): kept among the recent values, without hashing the key again.
   */
  noteValue(id: string, value: Uint8Array): void {
    // a stale value of `id` in `older` stays shadowed by this one, in `recent` until it is dropped
    if (this.recent.size >= RECENT_RECORDS / 2) {
      this.older = this.recent
      this.recent = new Map()
    }
    this.recent.set(id, ownBytes(value))
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

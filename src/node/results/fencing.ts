import { Libp2pRecord } from '@libp2p/record'
import type { Datastore, Key, Pair } from 'interface-datastore'
import { equals, fromString } from 'uint8arrays'
import { RESULT_KEY_PREFIX } from '../../protocol/constants.ts'
import { resultSelector } from '../../protocol/records/result-selector.ts'
import type { VerifiedRoots } from '../../protocol/records/verified-roots.ts'
import { toBase32 } from '../../util/base32.ts'
import { TextKey } from '../../util/text-key.ts'
import { queueUnlocked, serially, unlockedTail } from './fence-locks.ts'
import { GroupWriter } from './group-writer.ts'
import { answerMissesFromIndex } from './index-misses.ts'
import { StoredRecords } from './stored-records.ts'

/**
 * Fencing of result records in a node's own DHT store (promise 2).
 *
 * kad-dht keeps the last valid record that reaches a peer: its selector only chooses among the
 * replicas a `get` collects, it never stops an overwrite. taskmesh makes the rule monotonic in
 * the application, at every node, on the two paths into the store:
 *
 * - the `taskmesh-result` **validator** ({@link createResultValidator}) refuses a value whose record
 *   would lose the selector to the record already stored locally under that key, so kad-dht's
 *   PUT_VALUE handler answers with an error and stores nothing;
 * - every **write** of a result record into the datastore ({@link putResultRecord}, and kad-dht's own
 *   writes through {@link fenceResultRecords}) compares and writes under a per-key lock, so two puts
 *   racing between validation and write cannot let the older one land last.
 *
 * A late result from an older epoch therefore never replaces the accepted one on any node.
 */

/**
 * Where kad-dht keeps records in the libp2p datastore: its default `datastorePrefix` (`/dht`)
 * followed by `/record` (see `ContentFetching` and `bufferToRecordKey` in @libp2p/kad-dht).
 */
export const DHT_RECORD_PREFIX = '/dht/record'

/** True for a key under {@link DHT_RECORD_PREFIX}: a kad-dht record's. */
export function isDhtRecordKey(key: Key): boolean {
  return key.toString().startsWith(`${DHT_RECORD_PREFIX}/`)
}

const RESULT_KEY_BYTES = fromString(`/${RESULT_KEY_PREFIX}/`, 'utf8')

/**
 * The datastore key under which kad-dht keeps (and serves) the record of `key`. Not memoised: a
 * node names each record's key about once (its write), and a memo's misses cost more than the
 * name (~1.7 against 0.75 µs).
 */
export function dhtRecordKey(key: Uint8Array): Key {
  return new TextKey(`${DHT_RECORD_PREFIX}/${toBase32(key)}`)
}

/** The DHT key a datastore key holds the record of, when it is a taskmesh result key. */
function resultKeyOf(dsKey: Key): Uint8Array | undefined {
  const text = dsKey.toString()
  if (!text.startsWith(`${DHT_RECORD_PREFIX}/`)) return undefined
  try {
    const key = fromString(text.slice(DHT_RECORD_PREFIX.length + 1), 'base32')
    return key.byteLength > RESULT_KEY_BYTES.byteLength &&
      equals(key.subarray(0, RESULT_KEY_BYTES.byteLength), RESULT_KEY_BYTES)
      ? key
      : undefined
  } catch {
    return undefined
  }
}

/**
 * True when `incoming` would lose the result selector to `stored` under `key`: the stored record
 * stays. Equal bytes never lose (storing the same record again is idempotent).
 */
export function losesToStored(
  key: Uint8Array,
  incoming: Uint8Array,
  stored: Uint8Array,
  roots?: VerifiedRoots,
): boolean {
  if (equals(incoming, stored)) return false
  return resultSelector(key, [stored, incoming], roots) === 0
}

/** The value of the result record stored locally under `key`, if any (unverified bytes). */
export function readStoredResult(datastore: Datastore, key: Uint8Array): Promise<Uint8Array | undefined> {
  const dsKey = dhtRecordKey(key)
  return readStored(datastore, dsKey, dsKey.toString())
}

const MUST_READ = Symbol('must read')
/**
 * What is stored under `id` as the index knows it without a read (a write of a record not stored
 * yet — nearly all — reads nothing: see StoredRecords): the value, `undefined`, or {@link MUST_READ}.
 */
function storedByIndex(datastore: Datastore, id: string): Uint8Array | undefined | typeof MUST_READ {
  const known = indexes.get(datastore)
  if (known === undefined) return MUST_READ
  // a recent value's key is in the filter: a key it lacks needs no lookup of the values
  if (!known.mayHold(id)) return undefined
  return known.recentValue(id) ?? MUST_READ
}

/**
 * {@link readStoredResult} of datastore key `dsKey`, whose text is `id`. A key the index cannot
 * answer for may be one whose write is under way (claimed, its value noted once committed): the
 * read waits for the writes before it, then asks the index again — a copy being kept is read from
 * memory, not from the store.
 */
async function readStored(datastore: Datastore, dsKey: Key, id: string): Promise<Uint8Array | undefined> {
  const byIndex = storedByIndex(datastore, id)
  if (byIndex !== MUST_READ) return byIndex
  return serially(datastore, id, unlockedTail(datastore), async () => {
    const known = storedByIndex(datastore, id)
    return known === MUST_READ ? readThrough(datastore, dsKey, id) : known
  })
}

/** Reads the record under `dsKey` from the store, and tells the index what it found. */
async function readThrough(datastore: Datastore, dsKey: Key, id: string): Promise<Uint8Array | undefined> {
  const value = await readFromStore(datastore, dsKey)
  if (value !== undefined) indexes.get(datastore)?.noteStored(id, value)
  return value
}

async function readFromStore(datastore: Datastore, dsKey: Key): Promise<Uint8Array | undefined> {
  // most writes are of records not stored yet: ask first rather than build a NotFoundError
  if (!(await datastore.has(dsKey))) return undefined
  let raw: Uint8Array
  try {
    raw = await datastore.get(dsKey)
  } catch (err) {
    if ((err as Error).name === 'NotFoundError') return undefined
    throw err
  }
  try {
    return Libp2pRecord.deserialize(raw).value
  } catch {
    return undefined // a corrupt entry loses to anything valid
  }
}

/** What a fenced write did. */
export interface FencedWrite {
  /** True when the value was written; false when the stored record wins and stays. */
  written: boolean
  /** The value stored under the key now (the one written, or the one that stayed). */
  current: Uint8Array
  /** True when the very same value was stored already (written again: nothing changed). */
  again?: boolean
}

type Put = Datastore['put']
/** Per datastore, the `put` {@link fenceResultRecords} replaced. */
const rawPuts = new WeakMap<Datastore, Put>()
/** Per fenced datastore, what is known of its records without reading it. */
const indexes = new WeakMap<Datastore, StoredRecords>()
/** What a fenced datastore knows of its result records without reading it (undefined: not fenced). */
export function storedRecordsOf(datastore: Datastore): StoredRecords | undefined {
  return indexes.get(datastore)
}
/** Per fenced datastore, the group commit of its record writes. */
const writers = new WeakMap<Datastore, GroupWriter>()
/** The writer that groups a fenced datastore's record writes into batches (undefined: not fenced). */
export function groupWriterOf(datastore: Datastore): GroupWriter | undefined {
  return writers.get(datastore)
}

function rawPut(datastore: Datastore): Put {
  return rawPuts.get(datastore) ?? datastore.put.bind(datastore)
}

/**
 * Writes a serialized kad-dht record (`Libp2pRecord`) of result key `key` unless the record stored
 * there wins the selector against it. Compare and write happen under a per-key lock. `value` is
 * the record's value when the caller has it at hand (it is read from `serialized` otherwise).
 */
export function putResultRecord(
  datastore: Datastore,
  key: Uint8Array,
  serialized: Uint8Array,
  options?: Parameters<Put>[2],
  roots?: VerifiedRoots,
  value: Uint8Array = Libp2pRecord.deserialize(serialized).value,
): Promise<FencedWrite> {
  const dsKey = dhtRecordKey(key)
  const id = dsKey.toString()
  // from here a write of the key through putNewResultRecord takes this path too (after this one);
  // a key no write claimed before, and not stored at start, holds nothing when this one's turn comes
  const fresh = indexes.get(datastore)?.claim(id) === true
  return serially(datastore, id, unlockedTail(datastore), async () => {
    // what the index knows is answered inline: no async call, no turn (nearly every write)
    const byIndex = fresh ? undefined : storedByIndex(datastore, id)
    const stored = byIndex === MUST_READ ? await readThrough(datastore, dsKey, id) : byIndex
    if (stored !== undefined) {
      // the same record again (a completion's record, then its replica) is stored already
      if (equals(stored, value)) return { written: true, current: stored, again: true }
      if (losesToStored(key, value, stored, roots)) return { written: false, current: stored }
    }
    const writer = writers.get(datastore)
    if (writer === undefined) await rawPut(datastore)(dsKey, serialized, options)
    else {
      options?.signal?.throwIfAborted()
      await writer.put(dsKey, serialized)
    }
    // the key was claimed above: its bits are set, its value is what is new
    indexes.get(datastore)?.noteValue(id, value)
    return { written: true, current: value }
  })
}

/**
 * {@link putResultRecord} of a record whose key nothing holds — no record stored, no write of it
 * under way, as the index knows without a read (it claims the key: see `StoredRecords.claim`):
 * nearly every copy a node keeps. Its write joins the group writer's next batch at once, with no
 * lock of its own: every later write of the key takes {@link putResultRecord} (the key is claimed),
 * which waits for the fast writes queued before it. `current` is `value`.
 * @returns the commit of the batch (it rejects when the write failed), or undefined when the key
 *   may hold a record or a write: then nothing was done, and the caller takes putResultRecord.
 */
export function putNewResultRecord(
  datastore: Datastore,
  key: Uint8Array,
  serialized: Uint8Array,
  value: Uint8Array,
): Promise<void> | undefined {
  const writer = writers.get(datastore)
  const known = indexes.get(datastore)
  if (writer === undefined || known === undefined) return undefined
  const dsKey = dhtRecordKey(key)
  const id = dsKey.toString()
  if (!known.claim(id)) return undefined
  const committed = writer.put(dsKey, serialized)
  queueUnlocked(datastore, committed, id, value, known)
  return committed
}

/** Yields the pairs of `source`, noting each record key not written by `writer` stored in `known`. */
async function* notingEach(
  source: Iterable<Pair> | AsyncIterable<Pair>,
  known: StoredRecords,
  writer: GroupWriter,
): AsyncGenerator<Pair> {
  for await (const pair of source) {
    if (!writer.isCommitting(pair.value) && isDhtRecordKey(pair.key)) known.noteStored(pair.key.toString())
    yield pair
  }
}

/**
 * Makes every `put` of a result record into `datastore` fenced (see {@link putResultRecord}); other
 * keys are written as before. kad-dht writes records itself (PUT_VALUE from peers, corrections after
 * a `get`), so the node's datastore is fenced before libp2p gets it. Idempotent; returns `datastore`.
 */
export function fenceResultRecords<D extends Datastore>(datastore: D, roots?: VerifiedRoots): D {
  if (rawPuts.has(datastore)) return datastore
  const original = datastore.put.bind(datastore)
  rawPuts.set(datastore, original)
  const known = new StoredRecords()
  indexes.set(datastore, known)
  const writer = new GroupWriter(datastore.batch.bind(datastore))
  writers.set(datastore, writer)
  const fenced: Put = async (dsKey, value, options) => {
    const key = resultKeyOf(dsKey)
    // a batch of fenced writes, committed by a datastore that puts each pair itself, passes through
    if (key === undefined || writer.isCommitting(value)) return original(dsKey, value, options)
    await putResultRecord(datastore, key, value, options, roots)
    return dsKey
  }
  datastore.put = fenced
  // writes and deletes that bypass the fenced put keep the index true (kad-dht uses neither for
  // records; the group writer's puts are noted by their fenced writes)
  const batch = datastore.batch.bind(datastore)
  datastore.batch = () => {
    const inner = batch()
    return {
      put: (k, v) => {
        if (!writer.isCommitting(v) && isDhtRecordKey(k)) known.noteStored(k.toString())
        inner.put(k, v)
      },
      delete: (k) => {
        if (isDhtRecordKey(k)) known.forget(k.toString())
        inner.delete(k)
      },
      commit: (options) => inner.commit(options),
    }
  }
  const remove = datastore.delete.bind(datastore)
  datastore.delete = (k, options) => {
    if (isDhtRecordKey(k)) known.forget(k.toString())
    return remove(k, options)
  }
  // a datastore whose batches commit through its own putMany (datastore-core's) passes the group
  // writer's pairs here: those are noted by their fenced writes; any other record key is noted here
  const putMany = datastore.putMany.bind(datastore)
  datastore.putMany = (source, options) => putMany(notingEach(source, known, writer), options)
  answerMissesFromIndex(datastore, known, isDhtRecordKey)
  void known.scan(datastore, DHT_RECORD_PREFIX).catch(() => undefined) // until it ends, every key is read
  return datastore
}

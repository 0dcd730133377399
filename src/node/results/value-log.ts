import { type FileHandle, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AbortOptions } from '@libp2p/interface'
import { BaseDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import { type Batch, type Datastore, Key, type KeyQuery, type Pair, type Query } from 'interface-datastore'
import { openPrivate } from '../wire/private-files.ts'
import { isDhtRecordKey } from './fencing.ts'

/** The file beside a node's datastore that holds the values of its DHT records. */
export const RECORD_LOG_FILE = 'record-values.log'

/**
 * Where a clean stop writes the log's length in the wrapped store: the log only grows, so a log
 * shorter at the next start was cut (by hand, a restore, a disk fault) and its records are gone.
 */
const LOG_SIZE_KEY = new Key('/taskmesh/record-log-size')

/** The first two bytes of an index entry (a kad-dht record, protobuf, starts with 0x0a). */
const POINTER_MAGIC = [0xff, 0x4c] as const
/** An index entry: the magic, the value's offset in the log (6 bytes), its length (4 bytes). */
const POINTER_BYTES = 12

/** What `get` throws for a key with no value, by the name kad-dht and the fencing look for. */
class NotFoundError extends Error {
  override readonly name = 'NotFoundError'
}

function pointer(offset: number, length: number): Uint8Array {
  const out = Buffer.allocUnsafe(POINTER_BYTES)
  out[0] = POINTER_MAGIC[0]
  out[1] = POINTER_MAGIC[1]
  out.writeUIntBE(offset, 2, 6)
  out.writeUInt32BE(length, 8)
  return out
}

function isPointer(entry: Uint8Array): boolean {
  return entry.byteLength === POINTER_BYTES && entry[0] === POINTER_MAGIC[0] && entry[1] === POINTER_MAGIC[1]
}

/**
 * A datastore that keeps the values of kad-dht's records (`/dht/record/…`: the result records) in
 * an append-only log file and, in the datastore it wraps, only where each value is (12 bytes); every
 * other key is the wrapped store's alone. LevelDB rewrites what it holds as it compacts its levels:
 * a record of ~1 KB written to it cost 26–35 µs of CPU over all threads, compaction included, growing
 * with the store (25,000 to 100,000 records); written here, 12 µs (`npx tsx scripts/copy-floor.ts`).
 *
 * A value is appended before its index entry is written, so an entry never names bytes not handed
 * to the file system (a process killed after the append keeps them: they are in the OS's cache).
 * Neither is synced, as LevelDB's own writes are not: after a power cut an entry may name bytes past
 * the log's end, and reads of it find nothing. Values are never rewritten: a record replaced or
 * deleted leaves its old bytes in the log. An entry written before the log existed (a full value) is
 * read as it is.
 */
export class ValueLogDatastore extends BaseDatastore {
  /** Appends in order, one at a time: each starts where the one before ended. */
  private tail: Promise<unknown> = Promise.resolve()

  private constructor(
    private readonly inner: Datastore & { close(): Promise<void> },
    private readonly log: FileHandle,
    /** The log's length: where the next append lands. */
    private size: number,
  ) {
    super()
  }

  /** Opens (or creates) the log at `path` over `inner`, an open datastore. */
  static async open(inner: Datastore & { close(): Promise<void> }, path: string): Promise<ValueLogDatastore> {
    const log = await openPrivate(path, 'a+')
    try {
      return new ValueLogDatastore(inner, log, (await log.stat()).size)
    } catch (err) {
      await log.close()
      throw err
    }
  }

  /**
   * Appends `values` to the log, one after another, in one call (no copy of them into one buffer);
   * resolves with where the first starts, once the file system has them all.
   */
  private append(values: Uint8Array[]): Promise<number> {
    const length = values.reduce((n, v) => n + v.byteLength, 0)
    const done = this.tail.then(async () => {
      const at = this.size
      try {
        const { bytesWritten } = await this.log.writev(values)
        this.size += bytesWritten
        if (bytesWritten !== length) throw new Error(`record log: ${bytesWritten} of ${length} bytes written`)
      } catch (err) {
        this.size = (await this.log.stat()).size // where the file ends now, whatever reached it
        throw err
      }
      return at
    })
    this.tail = done.catch(() => undefined)
    return done
  }

  /** The value an index entry names (an entry that is not a pointer is the value itself). */
  private async resolve(entry: Uint8Array): Promise<Uint8Array> {
    if (!isPointer(entry)) return entry
    const view = Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength)
    const offset = view.readUIntBE(2, 6)
    const length = view.readUInt32BE(8)
    const out = Buffer.allocUnsafe(length)
    const { bytesRead } = await this.log.read(out, 0, length, offset)
    if (bytesRead !== length)
      throw new NotFoundError(`record log: ${length} bytes at ${offset} are not there`)
    return out
  }

  override async put(key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    if (!isDhtRecordKey(key)) return this.inner.put(key, value, options)
    const at = await this.append([value])
    return this.inner.put(key, pointer(at, value.byteLength), options)
  }

  override async get(key: Key, options?: AbortOptions): Promise<Uint8Array> {
    const entry = await this.inner.get(key, options)
    return isDhtRecordKey(key) ? this.resolve(entry) : entry
  }

  override async has(key: Key, options?: AbortOptions): Promise<boolean> {
    return this.inner.has(key, options)
  }

  override async delete(key: Key, options?: AbortOptions): Promise<void> {
    await this.inner.delete(key, options)
  }

  /** A batch: its records' values go to the log in one append, then every operation, in order, to the index. */
  override batch(): Batch {
    // a put says at once whether its value goes to the log (the key's text is made once)
    const ops: Array<{ key: Key; value?: Uint8Array; logged?: boolean }> = []
    return {
      put: (key, value) => ops.push({ key, value, logged: isDhtRecordKey(key) }),
      delete: (key) => ops.push({ key }),
      commit: async (options) => {
        const values = ops.flatMap((op) => (op.logged === true && op.value !== undefined ? [op.value] : []))
        let at = values.length === 0 ? 0 : await this.append(values)
        const inner = this.inner.batch()
        for (const { key, value, logged } of ops) {
          if (value === undefined) inner.delete(key)
          else if (logged !== true) inner.put(key, value)
          else {
            inner.put(key, pointer(at, value.byteLength))
            at += value.byteLength
          }
        }
        await inner.commit(options)
      },
    }
  }

  override async *_all(q: Query, options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const { key, value } of this.inner.query({ prefix: q.prefix }, options)) {
      yield { key, value: isDhtRecordKey(key) ? await this.resolve(value) : value }
    }
  }

  override async *queryKeys(q: KeyQuery, options?: AbortOptions): AsyncGenerator<Key> {
    yield* this.inner.queryKeys(q, options)
  }

  /**
   * What is wrong with the log as it was opened: shorter than at the last clean stop (its records
   * past the new end are gone). Undefined when nothing is, or no stop was recorded.
   */
  async damage(path: string): Promise<string | undefined> {
    const mark = await Promise.resolve()
      .then(() => this.inner.get(LOG_SIZE_KEY))
      .catch(() => undefined)
    if (mark?.byteLength !== 8) return undefined
    const was = Number(Buffer.from(mark.buffer, mark.byteOffset, 8).readBigUInt64BE())
    if (this.size >= was) return undefined
    return `datastore: ${path} is ${was - this.size} bytes shorter than when the node last stopped (${this.size} of ${was}): result records stored here in those bytes are gone (their copies at peers are still read)`
  }

  /** Closes the log once its appends have ended (its length noted for the next start), then the wrapped store. */
  async close(): Promise<void> {
    await this.tail
    await this.log.close()
    const mark = Buffer.alloc(8)
    mark.writeBigUInt64BE(BigInt(this.size))
    try {
      await this.inner.put(LOG_SIZE_KEY, mark)
    } catch {
      // a full disk: no check at the next start
    }
    await this.inner.close()
  }
}

/** Opens a node's datastore in `dataDir`: LevelDB in `datastore/`, its records' values in {@link RECORD_LOG_FILE}. */
export async function openNodeDatastore(dataDir: string): Promise<ValueLogDatastore> {
  const level = new LevelDatastore(join(dataDir, 'datastore'))
  await level.open()
  try {
    return await ValueLogDatastore.open(level, join(dataDir, RECORD_LOG_FILE))
  } catch (err) {
    await level.close()
    throw err
  }
}

/**
 * What LevelDB dropped as damaged when it opened the data dir's datastore (a crash mid-write, a
 * disk's bad sector): it says so only in its own `datastore/LOG` and goes on, and the records in
 * what it dropped are gone. Undefined when it dropped nothing (or there is no LOG).
 */
export async function levelDamage(dataDir: string): Promise<string | undefined> {
  const log = join(dataDir, 'datastore', 'LOG')
  const text = await readFile(log, 'utf8').catch(() => '')
  let bytes = 0
  for (const [, dropped] of text.matchAll(/dropping (\d+) bytes; Corruption/g)) bytes += Number(dropped)
  if (bytes === 0) return undefined
  return `datastore: LevelDB dropped ${bytes} damaged bytes when it opened (see ${log}): result records stored here before may be gone (their copies at peers are still read)`
}

import type { Datastore } from 'interface-datastore'
import { taskIdFromResultKey } from '../../protocol/records/result-record-schema.ts'
import { TextKey } from '../../util/text-key.ts'
import { trimOldest } from '../../util/trim-oldest.ts'
import { groupWriterOf } from './fencing.ts'

/** Where the markers of records not sent yet live in the node's datastore. */
export const UNSENT_PREFIX = '/taskmesh/unsent'
/** Records followed in memory at most: a lone node's oldest leave memory (their markers stay). */
export const MAX_FOLLOWED_UNSENT = 100_000
/**
 * The markers of records sent are deleted together, at most this often (ms): one datastore batch
 * for all of them, not one per turn that ends a few (a quarter of a write per task otherwise).
 */
export const END_WINDOW_MS = 1_000

const COPIED = 1
const ANNOUNCED = 2
const SENT = COPIED | ANNOUNCED

/**
 * The records this node made whose copies may not have left it yet. Each gets a marker in the
 * datastore, written in the same batch as the record (or an earlier one), and deleted once a peer
 * acknowledged a copy and the record's notice went out. A node killed in between — or one that
 * ran tasks alone and stopped before any peer came — finds the markers at its next start, and
 * sends the copies and a notice again once a peer is heard (see `JournalReplay`). Without them a
 * record only this disk held would stay unknown to the mesh: the only result of a task whose
 * custodian finds none (and runs it again), or a later run that beats a record other nodes hold.
 *
 * Markers cost a key in batches the node writes anyway: a put with the record's own turn, and
 * deletes gathered for up to {@link END_WINDOW_MS} into one batch (the datastore applies a batch's
 * operations in order, as LevelDB does).
 * Writing them is best effort: a failed write only loses the re-send. Only a node whose datastore
 * is on disk has them: one in memory has no later life.
 */
export class UnsentRecords {
  /** Followed records: which of {@link COPIED} and {@link ANNOUNCED} happened, in marking order. */
  private readonly followed = new Map<string, number>()
  /** Records sent whose markers the next batch of deletes removes. */
  private readonly ending = new Set<string>()
  private endTimer: NodeJS.Timeout | undefined

  constructor(private readonly datastore: Datastore) {}

  /** Records followed now (made here, their copy or notice not out yet). */
  get size(): number {
    return this.followed.size
  }

  /**
   * A record of the task was made here: its marker is written with the record. Resolves once it
   * is committed (or failed: best effort).
   */
  mark(taskId: string): Promise<void> {
    this.followed.delete(taskId)
    this.followed.set(taskId, 0)
    trimOldest(this.followed, MAX_FOLLOWED_UNSENT)
    return this.write(taskId, true)
  }

  /** A peer acknowledged a copy of the task's record (or none will be sent: it lost locally). */
  copied(taskId: string): void {
    this.note(taskId, COPIED)
  }

  /** A peer acknowledged a copy of the record under DHT key `key`. */
  copiedUnder(key: Uint8Array): void {
    const taskId = this.followed.size > 0 ? taskIdFromResultKey(key) : undefined
    if (taskId !== undefined) this.copied(taskId)
  }

  /** The task's result notice went out. */
  announced(taskId: string): void {
    this.note(taskId, ANNOUNCED)
  }

  /** Forgets a task's marker (nothing to send: its record is not in the store). */
  forget(taskId: string): void {
    this.followed.delete(taskId)
    this.end(taskId)
  }

  /**
   * The tasks whose markers are in the datastore — left by an earlier life of the node, or marked
   * since — each followed again, so the re-sent record's copy and notice delete its marker.
   */
  async load(): Promise<string[]> {
    const ids: string[] = []
    for await (const key of this.datastore.queryKeys({ prefix: UNSENT_PREFIX })) {
      const id = key.baseNamespace()
      ids.push(id)
      if (!this.followed.has(id)) this.followed.set(id, 0)
    }
    return ids
  }

  /**
   * Deletes at once the markers of the records sent since the last batch of deletes; resolves once
   * the deletes are committed.
   */
  async endNow(): Promise<void> {
    clearTimeout(this.endTimer)
    this.endTimer = undefined
    // a record made again since it was sent keeps its (new) marker
    const ids = [...this.ending].filter((id) => !this.followed.has(id))
    this.ending.clear()
    await Promise.all(ids.map((id) => this.write(id, false)))
  }

  private note(taskId: string, what: number): void {
    const now = this.followed.get(taskId)
    if (now === undefined) return
    if ((now | what) !== SENT) {
      this.followed.set(taskId, now | what)
      return
    }
    this.followed.delete(taskId)
    this.end(taskId)
  }

  /** The task's marker goes with the next batch of deletes. */
  private end(taskId: string): void {
    this.ending.add(taskId)
    if (this.endTimer !== undefined) return
    this.endTimer = setTimeout(() => void this.endNow(), END_WINDOW_MS)
    this.endTimer.unref()
  }

  private write(taskId: string, put: boolean): Promise<void> {
    const key = new TextKey(`${UNSENT_PREFIX}/${taskId}`)
    const writer = groupWriterOf(this.datastore)
    const done = put
      ? (writer?.put(key, EMPTY) ?? this.datastore.put(key, EMPTY))
      : (writer?.delete(key) ?? this.datastore.delete(key))
    return Promise.resolve(done).then(
      () => undefined,
      () => undefined,
    )
  }
}

const EMPTY = new Uint8Array(0)

import { randomBytes } from 'node:crypto'
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
 * The markers of groups sent are deleted together, at most this often (ms): one datastore batch
 * for all of them, not one per turn that ends a few.
 */
export const END_WINDOW_MS = 1_000

const COPIED = 1
const ANNOUNCED = 2
const SENT = COPIED | ANNOUNCED

/** The records marked between two batches of the node's writes: one marker holds them all. */
interface Group {
  /** The marker's datastore key. */
  readonly key: string
  /** The tasks marked in the group while it is open (its marker not made yet); then undefined. */
  ids: string[] | undefined
  /** The group's records followed and not sent yet: at 0 (once closed) its marker goes. */
  left: number
  /** Settles once the marker is committed (or failed). */
  written: Promise<void>
}

interface Followed {
  /** Which of {@link COPIED} and {@link ANNOUNCED} happened. */
  what: number
  readonly group: Group
}

/**
 * The records this node made whose copies may not have left it yet. Their task ids are in a
 * marker in the datastore, written in the same batch as the records (or an earlier one), and
 * deleted once a peer acknowledged a copy of each and each record's notice went out. A node killed
 * in between — or one that ran tasks alone and stopped before any peer came — finds the markers at
 * its next start, and sends the copies and a notice again once a peer is heard (see
 * `JournalReplay`). Without them a record only this disk held would stay unknown to the mesh: the
 * only result of a task whose custodian finds none (and runs it again), or a later run that beats a
 * record other nodes hold.
 *
 * One marker per batch of the node's writes, not one per record: the records marked before a
 * batch is built are listed in one value that batch puts (`GroupWriter.putLater`), and the marker
 * is deleted once all of them are sent, with the other markers ended within
 * {@link END_WINDOW_MS}. A marker per record cost a put and a delete, each through the writer's
 * layers, for every task (~7 % of an executor's CPU per no-op task). A record made again before
 * its group ended moves to the next group; a group's list may name records sent already (a crash
 * sends them again: harmless). Writing markers is best effort: a failed write only loses the
 * re-send. Only a node whose datastore is on disk has them: one in memory has no later life.
 */
export class UnsentRecords {
  /** Followed records, in marking order. */
  private readonly followed = new Map<string, Followed>()
  /** The group marks join now (its marker not made yet). */
  private open: Group | undefined
  /** This life's name in its markers' keys: a later life's load leaves this one's groups alone. */
  private readonly life = randomBytes(6).toString('base64url')
  private groups = 0
  /** The groups whose markers the next batch of deletes removes. */
  private readonly ending = new Set<Group>()
  private endTimer: NodeJS.Timeout | undefined

  constructor(private readonly datastore: Datastore) {}

  /** Records followed now (made here, their copy or notice not out yet). */
  get size(): number {
    return this.followed.size
  }

  /**
   * A record of the task was made here: its marker is written with the record (or before).
   * Resolves once it is committed (or failed: best effort).
   */
  mark(taskId: string): Promise<void> {
    const before = this.followed.get(taskId)
    const group = this.open ?? this.openGroup()
    if (before?.group === group) {
      before.what = 0
      return group.written
    }
    if (before !== undefined) {
      this.followed.delete(taskId)
      this.leave(before.group)
    }
    group.ids?.push(taskId)
    group.left++
    this.followed.set(taskId, { what: 0, group })
    trimOldest(this.followed, MAX_FOLLOWED_UNSENT) // a trimmed record's group keeps its marker
    return group.written
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

  /** Forgets a task (nothing to send: its record is not in the store). */
  forget(taskId: string): void {
    const followed = this.followed.get(taskId)
    if (followed === undefined) return
    this.followed.delete(taskId)
    this.leave(followed.group)
  }

  /**
   * The tasks named in markers an earlier life of the node left, each followed again, so that once
   * the re-sent records' copies and notices are out their markers go.
   */
  async load(): Promise<string[]> {
    const ids = new Set<string>()
    for await (const { key, value } of this.datastore.query({ prefix: UNSENT_PREFIX })) {
      const name = key.baseNamespace()
      if (name.startsWith(`${this.life}.`)) continue // this life's own
      const group: Group = { key: key.toString(), ids: undefined, left: 0, written: DONE }
      // a marker with no value names its task in its key (one marker per record, as before)
      for (const id of value.length === 0 ? [name] : decoder.decode(value).split('\n')) {
        ids.add(id)
        if (this.followed.has(id)) continue // followed in another group already
        this.followed.set(id, { what: 0, group })
        group.left++
      }
      if (group.left === 0) this.end(group)
    }
    return [...ids]
  }

  /**
   * Deletes at once the markers of the groups sent since the last batch of deletes; resolves once
   * the deletes are committed.
   */
  async endNow(): Promise<void> {
    clearTimeout(this.endTimer)
    this.endTimer = undefined
    const groups = [...this.ending]
    this.ending.clear()
    await Promise.all(groups.map((group) => group.written.then(() => settle(this.remove(group.key)))))
  }

  private remove(key: string): unknown {
    const writer = groupWriterOf(this.datastore)
    return writer === undefined ? this.datastore.delete(new TextKey(key)) : writer.delete(new TextKey(key))
  }

  private note(taskId: string, what: number): void {
    const followed = this.followed.get(taskId)
    if (followed === undefined) return
    followed.what |= what
    if (followed.what !== SENT) return
    this.followed.delete(taskId)
    this.leave(followed.group)
  }

  /** One of the group's records is sent (or needs no sending). */
  private leave(group: Group): void {
    group.left--
    if (group.left === 0 && group.ids === undefined) this.end(group)
  }

  /** A new group, whose marker the next batch of the node's writes puts. */
  private openGroup(): Group {
    const key = `${UNSENT_PREFIX}/${this.life}.${(this.groups++).toString(36)}`
    const group: Group = { key, ids: [], left: 0, written: DONE }
    this.open = group
    const writer = groupWriterOf(this.datastore)
    const close = () => this.close(group)
    if (writer !== undefined) group.written = settle(writer.putLater(new TextKey(key), close))
    else {
      // no writer to join: the marks of this run of the event loop's tasks go in one put
      group.written = settle(
        Promise.resolve().then(() => {
          const value = close()
          return value === undefined ? undefined : this.datastore.put(new TextKey(key), value)
        }),
      )
    }
    return group
  }

  /** The group's marker as its batch is built: later marks go to a new group. */
  private close(group: Group): Uint8Array | undefined {
    if (this.open === group) this.open = undefined
    const ids = group.ids ?? []
    group.ids = undefined
    return group.left === 0 ? undefined : encoder.encode(ids.join('\n')) // all sent already: none
  }

  /** The group's marker goes with the next batch of deletes. */
  private end(group: Group): void {
    this.ending.add(group)
    if (this.endTimer !== undefined) return
    this.endTimer = setTimeout(() => void this.endNow(), END_WINDOW_MS)
    this.endTimer.unref()
  }
}

const DONE = Promise.resolve()
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Resolves once `write` settles, either way (markers are best effort). */
function settle(write: unknown): Promise<void> {
  return Promise.resolve(write).then(
    () => undefined,
    () => undefined,
  )
}

import type { Datastore } from 'interface-datastore'
import type { StoredRecords } from './stored-records.ts'

/**
 * The order of fenced record writes (see `fencing.ts`): a compared write of a key waits for every
 * earlier one of the same key in the same datastore, under a per-key lock, so the compare and the
 * write of one never interleave with another's; a write of a key nothing holds takes no lock
 * (`putNewResultRecord`): the compared writes wait for all of those queued before them instead.
 */

/** Per datastore and key, the tail of the writes in progress. */
const locks = new WeakMap<Datastore, Map<string, Promise<unknown>>>()

function locksOf(datastore: Datastore): Map<string, Promise<unknown>> {
  let perStore = locks.get(datastore)
  if (perStore === undefined) {
    perStore = new Map()
    locks.set(datastore, perStore)
  }
  return perStore
}

/**
 * Runs `work` after every earlier fenced write of the same key in the same datastore — and, when
 * none is under way, after `after` (the fast writes queued before it, which hold no lock).
 */
export function serially<T>(
  datastore: Datastore,
  id: string,
  after: Promise<unknown> | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const perStore = locksOf(datastore)
  const before = perStore.get(id) ?? after
  // nothing to wait for (the usual case): start at once, no promise to chain on
  const run = before === undefined ? work() : before.then(work, work)
  const tail: Promise<void> = run.then(unlock, unlock)
  function unlock(): void {
    if (perStore.get(id) === tail) perStore.delete(id)
  }
  perStore.set(id, tail)
  return run
}

/** The latest unlocked writes of a datastore: those its group writer commits together. */
interface UnlockedBatch {
  readonly committed: Promise<void>
  readonly ids: string[]
  readonly values: Uint8Array[]
  /** Settles once the batch is committed and its keys noted stored (or not: the commit failed). */
  tail: Promise<void>
}
const unlocked = new WeakMap<Datastore, UnlockedBatch>()

/**
 * An unlocked write of key `id` joined the batch `committed` settles with: once it commits, the
 * batch's keys are noted stored in `known`, with their values (one promise per batch).
 */
export function queueUnlocked(
  datastore: Datastore,
  committed: Promise<void>,
  id: string,
  value: Uint8Array,
  known: StoredRecords,
): void {
  let batch = unlocked.get(datastore)
  if (batch?.committed !== committed) {
    const fresh: UnlockedBatch = { committed, ids: [], values: [], tail: committed }
    const settle = (written: boolean) => {
      if (unlocked.get(datastore) === fresh) unlocked.delete(datastore)
      if (written) for (let i = 0; i < fresh.ids.length; i++) known.noteValue(fresh.ids[i], fresh.values[i])
    }
    fresh.tail = committed.then(
      () => settle(true),
      () => settle(false),
    )
    unlocked.set(datastore, fresh)
    batch = fresh
  }
  batch.ids.push(id)
  batch.values.push(value)
}

/**
 * Settles once every unlocked write queued so far has (batches commit in order: the latest
 * settles last); undefined when none is pending.
 */
export function unlockedTail(datastore: Datastore): Promise<void> | undefined {
  return unlocked.get(datastore)?.tail
}

/**
 * Resolves once the fenced writes of `datastore` under way have ended, those started meanwhile
 * too (up to `rounds` times over): a node closing its datastore waits for them — a write between
 * its read and its hand-over to the group writer would otherwise find the database closed.
 */
export async function fencedWritesSettled(datastore: Datastore, rounds = 8): Promise<void> {
  const perStore = locks.get(datastore)
  for (let i = 0; i < rounds && ((perStore?.size ?? 0) > 0 || unlocked.has(datastore)); i++) {
    await Promise.all([...(perStore?.values() ?? []), unlockedTail(datastore)])
  }
}

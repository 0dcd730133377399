import type { Datastore, Key } from 'interface-datastore'
import type { StoredRecords } from './stored-records.ts'

/** A read of a record key the index knows is not stored, answered without the store. */
class RecordNotStoredError extends Error {
  override readonly name = 'NotFoundError'
}

/**
 * Answers a `get` of a result record key that `known` says is surely not stored (its filter lacks
 * the key, once the scan at start is complete) with `NotFoundError` at once, as the store would,
 * without reading LevelDB. kad-dht reads its own store first at every lookup it makes (`getLocal`)
 * and at every `GET_VALUE` a peer sends; a lookup of a task without a result — a replayed or
 * adopted one, a waiter's poll — read a key that is not there, ~85 µs a miss on LevelDB.
 * Other keys, and record keys that may be stored, are read as before.
 */
export function answerMissesFromIndex(
  datastore: Datastore,
  known: Pick<StoredRecords, 'mayHold'>,
  isRecordKey: (key: Key) => boolean,
): void {
  const get = datastore.get.bind(datastore)
  datastore.get = (key, options) => {
    if (isRecordKey(key) && !known.mayHold(key.toString())) {
      return Promise.reject(new RecordNotStoredError(`${key.toString()} is not stored`))
    }
    return get(key, options)
  }
}

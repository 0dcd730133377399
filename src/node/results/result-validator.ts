import type { Datastore } from 'interface-datastore'
import { InvalidRecordError } from '../../protocol/errors.ts'
import { openResultRecordSync, readVerifiedResultRecord } from '../../protocol/records/result-record.ts'
import type { VerifiedRoots } from '../../protocol/records/verified-roots.ts'
import { losesToStored, readStoredResult } from './fencing.ts'

/**
 * The kad-dht validator of `taskmesh-result` keys for a node whose records live in `datastore`:
 * the value must be a valid signed record for the key (see `resultValidator`) and must not lose the
 * selector to the record stored locally under that key.
 * @throws InvalidRecordError saying why the value was refused.
 */
export function createResultValidator(datastore: Datastore, roots?: VerifiedRoots) {
  return async (key: Uint8Array, value: Uint8Array): Promise<void> => {
    openResultRecordSync(value, key, roots)
    const stored = await readStoredResult(datastore, key)
    if (stored !== undefined && losesToStored(key, value, stored, roots)) {
      const epoch = (bytes: Uint8Array) => {
        try {
          return String(readVerifiedResultRecord(bytes).epoch)
        } catch {
          return '?'
        }
      }
      throw new InvalidRecordError(
        `result record: epoch ${epoch(value)} loses to the record stored here (epoch ${epoch(stored)})`,
      )
    }
  }
}

import { MemoryDatastore } from 'datastore-core'
import type { Batch, Key } from 'interface-datastore'

const { put, delete: remove } = MemoryDatastore.prototype

/** One operation of a batch: a put (with its value) or a delete. */
interface BatchOp {
  key: Key
  value?: Uint8Array
}

/**
 * The datastore of a node kept in memory (no data directory: simulations, tests, embedded use):
 * datastore-core's `MemoryDatastore`, whose batches apply their operations in order when
 * committed, as LevelDB's do. The inherited batch commits through `putMany` and then `deleteMany`
 * (an async generator's step per key, every put before every delete), and a node commits a batch
 * of record writes every few milliseconds under load.
 */
export class InMemoryDatastore extends MemoryDatastore {
  override batch(): Batch {
    let ops: BatchOp[] = []
    return {
      put: (key: Key, value: Uint8Array) => {
        ops.push({ key, value })
      },
      delete: (key: Key) => {
        ops.push({ key })
      },
      commit: async (options?: Parameters<Batch['commit']>[0]) => {
        options?.signal?.throwIfAborted()
        const applying = ops
        ops = []
        // the store's own methods (synchronous here), not what a wrapper may have put on the instance
        for (const op of applying) {
          if (op.value === undefined) remove.call(this, op.key)
          else put.call(this, op.key, op.value)
        }
      },
    }
  }
}

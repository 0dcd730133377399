import type { SingleKadDHT } from '@libp2p/kad-dht'
import type { ResultRecord } from '../../protocol/records/result-record.ts'
import type { VerifiedRoots } from '../../protocol/records/verified-roots.ts'
import type { RecordReplicator } from './record-replicator.ts'
import type { RecordSigner } from './record-signer.ts'
import type { UnsentRecords } from './unsent-records.ts'

/** Records kept in memory for fast reads (the DHT keeps them all). */
export const DEFAULT_CACHE_SIZE = 20_000

/**
 * Decides whether a record learnt from elsewhere may become the one known here (and wake
 * waiters): false for a record the owner knows to be stale (fencing).
 */
export type Admission = (record: ResultRecord) => boolean

/** How {@link ResultStore.publish} hands a record on besides storing it. */
export interface PublishOptions {
  /**
   * Called with the signed value at once, before the local copy is written (a thief's completion
   * leaves then). Returns the peer it handed the record to in that frame (the owner keeps it), to
   * which no copy is sent, if any.
   */
  signed?(value: Uint8Array): string | undefined
}

/** Options of {@link ResultStore}. */
export interface ResultStoreOptions {
  /** Reads records (`dht.get`, kad-dht's own lookup). */
  dht: SingleKadDHT
  /**
   * True while no peer is connected: a DHT get of a record not held here would only wait out its
   * deadline (a lone daemon's read of a task it did not know took 5 s). @defaultValue never
   */
  alone?(): boolean
  /** Stores records: the local copy and the closest peers' copies. */
  replicator: Pick<RecordReplicator, 'storeLocal' | 'replicate' | 'replicateLater' | 'readLocal' | 'replicas'>
  /** Signs this node's records (in batches). */
  signer: Pick<RecordSigner, 'sign'>
  /** The batch roots this node has checked (shared with its DHT validator and selector). @defaultValue a fresh one */
  roots?: VerifiedRoots
  /** Marks the records made here until their copy and notice are out. @defaultValue none */
  unsent?: Pick<UnsentRecords, 'mark' | 'copied'>
  /** @defaultValue DEFAULT_PUT_CONCURRENCY */
  putConcurrency?: number
  /** @defaultValue DEFAULT_CACHE_SIZE */
  cacheSize?: number
  onError?: (err: Error, taskId: string) => void
}

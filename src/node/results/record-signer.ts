import type { PrivateKey } from '@libp2p/interface'
import { MAX_SIGNED_BATCH, type ResultRecord, signResultBatch } from '../../protocol/records/result-record.ts'
import type { SignatureCounts } from '../../protocol/records/signature-counts.ts'

/** Most records one signature covers, unless told otherwise. */
export const DEFAULT_SIGN_BATCH = 256

interface Pending {
  record: ResultRecord
  resolve: (value: Uint8Array) => void
  reject: (err: Error) => void
}

/**
 * Signs this node's result records in batches: the records that finish in one run of code (before
 * the event loop takes its next event; the batch is signed on the microtask queue) share one
 * Ed25519 signature over their Merkle root (see `signResultBatch`). A `setImmediate` here cost a
 * lone local no-op 8–20 ms in a mesh of three nodes in one process (its check phase came late).
 * Nothing waits at low load; when many records finish together, one signature — and one check at
 * every node that meets the batch — covers them all.
 */
export class RecordSigner {
  private pending: Pending[] = []
  private scheduled = false

  /** @param counts where signatures made (and grant proofs checked while signing) are counted. */
  constructor(
    private readonly privateKey: PrivateKey,
    private readonly maxBatch = DEFAULT_SIGN_BATCH,
    private readonly counts?: SignatureCounts,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > MAX_SIGNED_BATCH) {
      throw new RangeError(`maxBatch must be 1 to ${MAX_SIGNED_BATCH}, got ${maxBatch}`)
    }
  }

  /**
   * Resolves with the record's signed value once its batch is signed.
   * @throws InvalidRecordError when the record is malformed or not this node's to sign (a bad
   *   record never spoils the rest of its batch).
   */
  sign(record: ResultRecord): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.pending.push({ record, resolve, reject })
      if (this.pending.length >= this.maxBatch) this.flush()
      else if (!this.scheduled) {
        this.scheduled = true
        queueMicrotask(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.scheduled = false
    const batch = this.pending
    this.pending = []
    if (batch.length === 0) return
    try {
      const values = signResultBatch(
        batch.map((p) => p.record),
        this.privateKey,
        this.counts,
      )
      for (const [i, p] of batch.entries()) p.resolve(values[i])
    } catch {
      // one record spoiled the batch: sign each alone, so only the bad one fails
      for (const p of batch) {
        try {
          p.resolve(signResultBatch([p.record], this.privateKey, this.counts)[0])
        } catch (err) {
          p.reject(err as Error)
        }
      }
    }
  }
}

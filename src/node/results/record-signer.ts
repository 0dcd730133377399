import type { PrivateKey } from '@libp2p/interface'
import { MAX_SIGNED_BATCH, type ResultRecord, signResultBatch } from '../../protocol/records/result-record.ts'
import type { SignatureCounts } from '../../protocol/records/signature-counts.ts'
import type { VerifiedRoots } from '../../protocol/records/verified-roots.ts'

/** Most records one signature covers, unless told otherwise. */
export const DEFAULT_SIGN_BATCH = 256
/**
 * Least time between two batch signatures of a node while more records are on their way, ms: a
 * record that finishes sooner after the last signature waits for the rest of it, so records
 * finishing one by one under load share a signature (and every node that meets them one check)
 * instead of costing one each.
 */
export const DEFAULT_SIGN_WINDOW_MS = 4
/**
 * Records that end a window's wait at once: company enough. Each doubling of a batch adds a hash to
 * every record's proof (45 bytes in each copy, one more hash at each check), so a window gathers a
 * few records, not hundreds.
 */
export const SIGN_WINDOW_FILL = 16

/** When a record may wait for company (see {@link RecordSigner}). */
export interface SignWindow {
  /** Least time between two signatures, ms (0 to 1000). */
  ms: number
  /**
   * True while more records are about to finish here (other attempts run): only then does a record
   * wait. A chain of tasks run one after another never waits for a window it cannot fill.
   */
  more(): boolean
}

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
 * every node that meets the batch — covers them all. With a window, a record that finishes within
 * `window.ms` of the last signature while other attempts still run waits for the window's end, with
 * whatever else finishes by then (the first record after a quiet spell, and a record with nothing
 * else running, still go out at once).
 */
export class RecordSigner {
  private pending: Pending[] = []
  private scheduled = false
  private timer: ReturnType<typeof setTimeout> | undefined
  private lastFlush = Number.NEGATIVE_INFINITY

  /**
   * @param counts where signatures made (and grant proofs checked while signing) are counted.
   * @param window when records wait for company (none: every turn that finished records signs).
   * @param roots the grant proofs known good here (made here, or taken from their owner): a record
   *   under one is signed without checking it again.
   */
  constructor(
    private readonly privateKey: PrivateKey,
    private readonly maxBatch = DEFAULT_SIGN_BATCH,
    private readonly counts?: SignatureCounts,
    private readonly window?: SignWindow,
    private readonly roots?: Pick<VerifiedRoots, 'hasGrant'>,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > MAX_SIGNED_BATCH) {
      throw new RangeError(`maxBatch must be 1 to ${MAX_SIGNED_BATCH}, got ${maxBatch}`)
    }
    if (window !== undefined && !(window.ms >= 0 && window.ms <= 1_000))
      throw new RangeError(`window.ms must be 0 to 1000, got ${window.ms}`)
  }

  /**
   * Resolves with the record's signed value once its batch is signed.
   * @throws InvalidRecordError when the record is malformed or not this node's to sign (a bad
   *   record never spoils the rest of its batch).
   */
  sign(record: ResultRecord): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.pending.push({ record, resolve, reject })
      const full = this.timer === undefined ? this.maxBatch : Math.min(this.maxBatch, SIGN_WINDOW_FILL)
      if (this.pending.length >= full) this.flush()
      else if (!this.scheduled) {
        this.scheduled = true
        const { window } = this
        const wait = window?.more() ? this.lastFlush + window.ms - performance.now() : 0
        if (wait > 0) this.timer = setTimeout(() => this.flush(), wait)
        else queueMicrotask(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.scheduled = false
    clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.pending
    this.pending = []
    if (batch.length === 0) return
    this.lastFlush = performance.now()
    try {
      const values = signResultBatch(
        batch.map((p) => p.record),
        this.privateKey,
        this.counts,
        this.roots,
      )
      for (const [i, p] of batch.entries()) p.resolve(values[i])
    } catch {
      // one record spoiled the batch: sign each alone, so only the bad one fails
      for (const p of batch) {
        try {
          p.resolve(signResultBatch([p.record], this.privateKey, this.counts, this.roots)[0])
        } catch (err) {
          p.reject(err as Error)
        }
      }
    }
  }
}

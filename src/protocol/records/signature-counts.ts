/**
 * Ed25519 operations a node performed, by what they were for. Plain counters the signers and the
 * verifiers increment (no allocation per operation); a node's accounting reads them.
 *
 * Verifications count the checks actually computed: a batch root found in `VerifiedRoots`, or a
 * grant answered by the process-wide memo (which another node in the same process may have filled),
 * costs nothing and is not counted.
 */
export interface SignatureCounts {
  /** Result-record batches signed (one signature each, over the batch's Merkle root). */
  recordBatchesSigned: number
  /** Result records covered by those signatures. */
  recordsSigned: number
  /** Grant proofs made (one per lease granted to a thief). */
  grantsSigned: number
  /** Signatures those proofs took (one per grant frame: its leases share it). */
  grantBatchesSigned: number
  /** Batch-root signatures of result records verified. */
  recordBatchesVerified: number
  /**
   * Result records whose batch signature was taken unchecked from their signer, on its own stream
   * (Noise authenticates the sender: the executor itself sent them; whoever reads them from here
   * checks them).
   */
  recordsFromSigner: number
  /** Owners' grant proofs verified. */
  grantsVerified: number
}

/** Counts of a node that has signed and verified nothing yet. */
export function createSignatureCounts(): SignatureCounts {
  return {
    recordBatchesSigned: 0,
    recordsSigned: 0,
    grantsSigned: 0,
    grantBatchesSigned: 0,
    recordBatchesVerified: 0,
    recordsFromSigner: 0,
    grantsVerified: 0,
  }
}

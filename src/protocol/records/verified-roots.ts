import { createSignatureCounts, type SignatureCounts } from './signature-counts.ts'

/** Batch roots a node remembers having checked, unless told otherwise. */
export const DEFAULT_VERIFIED_ROOTS = 20_000

/**
 * The batch roots whose executor signature a node has checked already. An executor signs the root
 * of a batch of result records once, and the node meets that signature again with every record of
 * the batch (completions, replicas, reads): a record that proves a root known here under the same
 * signature needs no second Ed25519 check. Bounded: the oldest entries go first.
 */
export class VerifiedRoots {
  private readonly roots = new Map<string, string>()

  /**
   * @param counts where the checks made with these roots are counted (batch signatures and grant
   *   proofs verified); a fresh set when not given.
   */
  constructor(
    private readonly maxEntries = DEFAULT_VERIFIED_ROOTS,
    readonly counts: SignatureCounts = createSignatureCounts(),
  ) {}

  /** True when `signature` was checked as `executor`'s signature of `root`. */
  has(executor: string, root: string, signature: string): boolean {
    return this.roots.get(`${executor} ${root}`) === signature
  }

  /** Remembers a checked signature. */
  add(executor: string, root: string, signature: string): void {
    const key = `${executor} ${root}`
    this.roots.delete(key)
    this.roots.set(key, signature)
    if (this.roots.size > this.maxEntries) {
      const oldest = this.roots.keys().next().value
      if (oldest !== undefined) this.roots.delete(oldest)
    }
  }

  /** Roots remembered now. */
  get size(): number {
    return this.roots.size
  }
}

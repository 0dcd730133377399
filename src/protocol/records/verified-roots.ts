import { trimOldest } from '../../util/trim-oldest.ts'
import { PathMemo } from './merkle.ts'
import { createSignatureCounts, type SignatureCounts } from './signature-counts.ts'

/** Batch roots a node remembers having checked, unless told otherwise. */
export const DEFAULT_VERIFIED_ROOTS = 20_000
/**
 * Grant proofs an owner remembers having made: enough for the leases out at once on a busy owner
 * (about 2 MiB of keys); a record whose proof was forgotten is checked as any other.
 */
export const MAX_ISSUED_GRANTS = 4_096

/**
 * The batch roots whose executor signature a node has checked already. An executor signs the root
 * of a batch of result records once, and the node meets that signature again with every record of
 * the batch (completions, replicas, reads): a record that proves a root known here under the same
 * signature needs no second Ed25519 check. Likewise the grant proofs the node signed as an owner
 * (its thieves' records come back carrying them) and, as a thief, those it took from the owner
 * itself (the records it signs carry them). Bounded: the oldest entries go first.
 */
export class VerifiedRoots {
  private readonly roots = new Map<string, string>()
  /**
   * Grant proofs this node made as an owner or took as a thief, by task and epoch (an owner leases
   * a task once per epoch): a short key to look up, then the other fields compared.
   */
  private readonly grants = new Map<string, { owner: string; holder: string; proof: string }>()
  /** Inclusion-path climbs made here: a batch's records share the upper part of their paths. */
  readonly paths = new PathMemo()

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
    trimOldest(this.roots, this.maxEntries)
  }

  /**
   * Remembers a grant proof this node made (as `owner`): the records its thieves send back carry
   * it, and a proof this node signed itself needs no check here. A thief remembers the proof of each
   * lease it took from the task's owner (`holder`: itself), in the owner's own answer on its
   * authenticated stream: its records under that lease are signed without checking it (a bad
   * proof spoils only the owner's task — every other node checks it).
   */
  addGrant(owner: string, taskId: string, holder: string, epoch: number, proof: string): void {
    const key = `${taskId} ${epoch}`
    this.grants.delete(key)
    this.grants.set(key, { owner, holder, proof })
    trimOldest(this.grants, MAX_ISSUED_GRANTS)
  }

  /** True when this node made, or took from the owner, exactly this grant proof (see {@link addGrant}). */
  hasGrant(owner: string, taskId: string, holder: string, epoch: number, proof: string): boolean {
    const made = this.grants.get(`${taskId} ${epoch}`)
    return made !== undefined && made.owner === owner && made.holder === holder && made.proof === proof
  }

  /** Roots remembered now. */
  get size(): number {
    return this.roots.size
  }
}

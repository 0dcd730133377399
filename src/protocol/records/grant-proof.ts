import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { fromBase64, toBase64 } from '../../util/base64.ts'
import { peerPublicKey, signEd25519, verifyWithKey } from './ed25519.ts'
import { isGrantProofText } from './grant-proof-text.ts'
import { leafHash, leafHashOfText, merkleTree, PathMemo, rootFromTextPath } from './merkle.ts'
import type { SignatureCounts } from './signature-counts.ts'
import type { VerifiedRoots } from './verified-roots.ts'

/**
 * Grant proofs: an owner's Ed25519 word on a lease it granted, `(task id, holder, epoch)`.
 *
 * The owner signs the leases of a steal grant; the thief puts each lease's proof in the result
 * record it signs (field `grant`). A kad-dht validator sees only a key and a value, never who sent it or what
 * the owner decided, so the record has to carry the owner's word: a record whose executor is not its
 * owner is valid only with the owner's proof for exactly that task, executor and epoch. A thief can
 * therefore not sign a result for a task it was not granted, nor raise the epoch it was granted.
 *
 * The payload of a lease is the UTF-8 of `taskmesh-grant/1\n<task id>\n<holder>\n<epoch>`. A lone
 * lease's proof is the signature of its payload (88 characters of padded base64). The leases of one
 * grant frame share one signature: over `taskmesh-grant-batch/1\n` and the 32-byte root of the
 * RFC 9162 Merkle tree of their payloads' leaf hashes, and each proof is
 * `<signature>.<index>.<size>.<path hash>.…` (the sibling hashes in padded base64). The prefixes keep
 * a proof from ever being read as a record batch signature (`taskmesh/result-batch/1\n…`).
 */

/** First line of every signed grant payload. */
export const GRANT_DOMAIN = 'taskmesh-grant/1'

/** First line of the signed bytes of a batch of grants (followed by the 32 root bytes). */
export const GRANT_BATCH_DOMAIN = 'taskmesh-grant-batch/1'

/** Leases one grant signature covers at most (a grant frame holds at most 1000). */
export const MAX_GRANT_BATCH = 1024

/**
 * The parts of a proof of the right form (see `isGrantProofText`) — `[signature]`, or
 * `[signature, index, size, …path]` — else undefined.
 */
function proofParts(proof: string): string[] | undefined {
  return isGrantProofText(proof) ? proof.split('.') : undefined
}

/** The bytes an owner signs for a lease of `taskId` to `holder` under `epoch`. */
export function grantPayload(taskId: string, holder: string, epoch: number): Uint8Array {
  const buf = Buffer.from(`${GRANT_DOMAIN}\n${taskId}\n${holder}\n${epoch}`, 'utf8')
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

/** Signs grant proofs with an owner's Ed25519 key. */
export class GrantSigner {
  /** The owner's peer id (the proofs' signer). */
  private readonly owner: string

  /**
   * @param counts where each proof signed is counted (`grantsSigned`).
   * @throws TypeError when the key is not Ed25519.
   */
  constructor(
    private readonly privateKey: PrivateKey,
    private readonly counts?: Pick<SignatureCounts, 'grantsSigned' | 'grantBatchesSigned'>,
    /** Told each proof made (the owner's records of its thieves come back with them). */
    private readonly issued?: Pick<VerifiedRoots, 'addGrant'>,
  ) {
    if (privateKey.type !== 'Ed25519') throw new TypeError('grant proofs need an Ed25519 key')
    this.owner = peerIdFromPrivateKey(privateKey).toString()
  }

  /** The proof (padded base64) that this owner leased `taskId` to `holder` under `epoch`. */
  sign(taskId: string, holder: string, epoch: number): string {
    return this.signAll(holder, [{ taskId, epoch }])[0]
  }

  /**
   * The proofs of leases granted to `holder` together (one grant frame), in order: one signature
   * for all of them. @throws RangeError for more than {@link MAX_GRANT_BATCH} leases.
   */
  signAll(holder: string, leases: ReadonlyArray<{ taskId: string; epoch: number }>): string[] {
    if (leases.length === 0) return []
    if (leases.length > MAX_GRANT_BATCH)
      throw new RangeError(`at most ${MAX_GRANT_BATCH} leases per signature`)
    if (this.counts !== undefined) {
      this.counts.grantsSigned += leases.length
      this.counts.grantBatchesSigned++
    }
    const payloads = leases.map((l) => grantPayload(l.taskId, holder, l.epoch))
    let proofs: string[]
    if (payloads.length === 1) proofs = [toBase64(signEd25519(this.privateKey, payloads[0]))]
    else {
      const { root, paths } = merkleTree(payloads.map(leafHash))
      const signature = toBase64(signEd25519(this.privateKey, grantBatchPayload(root)))
      proofs = paths.map(
        (path, i) => `${signature}.${i}.${payloads.length}${path.map((h) => `.${toBase64(h)}`).join('')}`,
      )
    }
    for (const [i, l] of leases.entries())
      this.issued?.addGrant(this.owner, l.taskId, holder, l.epoch, proofs[i])
    return proofs
  }
}

const GRANT_BATCH_PREFIX = new TextEncoder().encode(`${GRANT_BATCH_DOMAIN}\n`)

/** The bytes an owner signs for a batch of leases whose tree has `root`. */
export function grantBatchPayload(root: Uint8Array): Uint8Array {
  const prefix = GRANT_BATCH_PREFIX
  const out = new Uint8Array(prefix.byteLength + root.byteLength)
  out.set(prefix)
  out.set(root, prefix.byteLength)
  return out
}

/** Grant proofs (and batch signatures) a node remembers having checked before it starts over. */
const CHECKED_ENTRIES = 4_096

/** A lease whose proof was checked here: the fields it was checked for, and the answer. */
interface CheckedGrant {
  owner: string
  taskId: string
  holder: string
  epoch: number
  holds: boolean
}

/**
 * Proofs checked lately, by proof text (a record is checked on each path it takes into a node:
 * validator, selector, reads): a hit needs the same fields too. Keyed by the proof as it came, not
 * by a string joined of every field, which was built and hashed anew (about 450 characters) on
 * every check.
 */
let checkedGrants = new Map<string, CheckedGrant>()
/** Batch signatures checked lately, by signature text: the owner and root (base64) each held for. */
let checkedRoots = new Map<string, { owner: string; root: string; holds: boolean }>()
let grantChecksComputed = 0
/**
 * Inclusion-path climbs of grant proofs: the leases of one grant share the upper part of their
 * paths, so a keeper that checks several of them climbs each only until it meets one climbed
 * before (see {@link PathMemo}).
 */
const grantPaths = new PathMemo()
/**
 * Grants of at least this many leases climb through {@link grantPaths}. A smaller grant's paths are
 * short and a keeper seldom holds two of its leases: the memo's entries cost more than they save
 * (the 8 × 4 heterogeneous simulation, grants of ~5: 5 of 6 alternating runs faster without it).
 */
const GRANT_PATH_MEMO_SIZE = 16

/** Whether `proof` is `owner`'s word on the lease (`payload`: its text; see {@link grantPayload}). */
function grantHolds(owner: string, payload: string, proof: string): boolean {
  const parts = proofParts(proof)
  if (parts === undefined) return false
  if (parts.length === 1) return signatureHolds(owner, parts[0], undefined, Buffer.from(payload, 'utf8'))
  const size = Number(parts[2])
  if (size > MAX_GRANT_BATCH) return false
  const path = parts.slice(3)
  const memo = size >= GRANT_PATH_MEMO_SIZE ? grantPaths : undefined
  const root = rootFromTextPath(leafHashOfText(payload), Number(parts[1]), size, path, memo)
  // the leases of a batch share the check of its root's signature
  return root !== undefined && signatureHolds(owner, parts[0], root)
}

/**
 * Whether `signature` (base64) is `owner`'s over a batch `root`, or over a lone lease's `payload`:
 * one Ed25519 check per batch, remembered by signature.
 */
function signatureHolds(owner: string, signature: string, root?: Uint8Array, payload?: Uint8Array): boolean {
  const rootText = root === undefined ? '' : toBase64(root)
  const known = root === undefined ? undefined : checkedRoots.get(signature)
  if (known !== undefined && known.owner === owner && known.root === rootText) return known.holds
  grantChecksComputed++
  const key = peerPublicKey(owner)
  const signed = root === undefined ? payload : grantBatchPayload(root)
  const holds = key !== undefined && signed !== undefined && verifyWithKey(key, signed, fromBase64(signature))
  if (root !== undefined) {
    if (checkedRoots.size >= CHECKED_ENTRIES) checkedRoots = new Map()
    checkedRoots.set(signature, { owner, root: rootText, holds })
  }
  return holds
}

/**
 * True when `proof` is `owner`'s signature on a lease of `taskId` to `holder` under `epoch`.
 * False for anything else (an owner without an embedded Ed25519 key, a malformed proof). Never throws.
 * A check computed here (not answered by the memo) is counted in `counts.grantsVerified`.
 */
export function verifyGrantProof(
  owner: string,
  taskId: string,
  holder: string,
  epoch: number,
  proof: string,
  counts?: Pick<SignatureCounts, 'grantsVerified'>,
): boolean {
  const known = checkedGrants.get(proof)
  if (
    known !== undefined &&
    known.owner === owner &&
    known.taskId === taskId &&
    known.holder === holder &&
    known.epoch === epoch
  )
    return known.holds
  // a field with a newline could make another lease's payload (see grantPayload)
  if (taskId.includes('\n') || holder.includes('\n')) return false
  const before = grantChecksComputed
  const holds = grantHolds(owner, `${GRANT_DOMAIN}\n${taskId}\n${holder}\n${epoch}`, proof)
  if (counts !== undefined) counts.grantsVerified += grantChecksComputed - before
  if (checkedGrants.size >= CHECKED_ENTRIES) checkedGrants = new Map()
  checkedGrants.set(proof, { owner, taskId, holder, epoch, holds })
  return holds
}

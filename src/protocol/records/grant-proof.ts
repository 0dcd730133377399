import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { fromBase64, isCanonicalBase64, toBase64 } from '../../util/base64.ts'
import { memoizeString } from '../../util/memo.ts'
import { peerPublicKey, signEd25519, verifyWithKey } from './ed25519.ts'
import { leafHash, merkleTree, rootFromPath } from './merkle.ts'
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

/** Length in characters of a lone lease's proof: the padded base64 of a 64-byte Ed25519 signature. */
export const GRANT_PROOF_CHARS = 88

/** Leases one grant signature covers at most (a grant frame holds at most 1000). */
export const MAX_GRANT_BATCH = 1024

/** Longest proof: a signature, index and size of 4 digits, and 10 hashes of 44 characters. */
export const MAX_GRANT_PROOF_CHARS = GRANT_PROOF_CHARS + 10 + 10 * 45

/** The form of a proof: a lone signature, or a batch signature with its leaf's place and path. */
export const GRANT_PROOF_PATTERN =
  /^[A-Za-z0-9+/]{86}==(\.(0|[1-9][0-9]{0,3})\.([2-9]|[1-9][0-9]{1,3})(\.[A-Za-z0-9+/]{43}=){1,10})?$/

/** True when `proof` has the form of a grant proof (lone or batched; nothing checked). */
export function isGrantProofText(proof: unknown): proof is string {
  if (typeof proof !== 'string' || proof.length > MAX_GRANT_PROOF_CHARS || !GRANT_PROOF_PATTERN.test(proof))
    return false
  const parts = proof.split('.')
  return isCanonicalBase64(parts[0]) && parts.slice(3).every(isCanonicalBase64)
}

/** The bytes an owner signs for a lease of `taskId` to `holder` under `epoch`. */
export function grantPayload(taskId: string, holder: string, epoch: number): Uint8Array {
  const buf = Buffer.from(`${GRANT_DOMAIN}\n${taskId}\n${holder}\n${epoch}`, 'utf8')
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

/**
 * The one string that names a lease's proof: owner, task, holder, epoch and proof text. The fields
 * cannot hold a newline (peer ids, task ids, base64), so the joined key is unambiguous.
 */
export function grantKey(
  owner: string,
  taskId: string,
  holder: string,
  epoch: number,
  proof: string,
): string {
  return `${owner}\n${taskId}\n${holder}\n${epoch}\n${proof}`
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

/**
 * Whether a grant is `owner`'s proof, memoised on every field at once (a record is checked on each
 * path it takes into a node: validator, selector, reads), so each lease's proof is verified once.
 */
let grantChecksComputed = 0
const grantHolds = memoizeString((grant: string): boolean => {
  const [owner, taskId, holder, epoch, proof] = grant.split('\n')
  if (proof === undefined || !isGrantProofText(proof)) return false
  const payload = grantPayload(taskId, holder, Number(epoch))
  const [signature, index, size, ...path] = proof.split('.')
  if (index === undefined) return signatureHolds(`${owner}\n${signature}\n${toBase64(payload)}`)
  const root = rootFromPath(leafHash(payload), Number(index), Number(size), path.map(fromBase64))
  if (root === undefined || Number(size) > MAX_GRANT_BATCH) return false
  // the leases of a batch share the check of its root's signature
  return signatureHolds(`${owner}\n${signature}\n${toBase64(grantBatchPayload(root))}`)
}, 10_000)

/** Whether `owner\nsignature\npayload` (base64) holds: one Ed25519 check per distinct triple. */
const signatureHolds = memoizeString((triple: string): boolean => {
  grantChecksComputed++
  const [owner, proof, payload] = triple.split('\n')
  const key = peerPublicKey(owner)
  if (key === undefined) return false
  try {
    return verifyWithKey(key, fromBase64(payload), fromBase64(proof))
  } catch {
    return false
  }
}, 10_000)

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
  // a field with a newline could pass for another lease's key (see grantKey)
  if ([owner, taskId, holder, proof].some((f) => f.includes('\n'))) return false
  const before = grantChecksComputed
  const holds = grantHolds(grantKey(owner, taskId, holder, epoch, proof))
  if (counts !== undefined) counts.grantsVerified += grantChecksComputed - before
  return holds
}

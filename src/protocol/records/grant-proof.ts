import { verify } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { toString as bytesToString, fromString } from 'uint8arrays'
import { memoizeString } from '../../util/memo.ts'
import { peerPublicKey, signEd25519 } from './ed25519.ts'
import type { SignatureCounts } from './signature-counts.ts'

/**
 * Grant proofs: an owner's Ed25519 signature on one lease it granted, `(task id, holder, epoch)`.
 *
 * The owner signs each lease of a steal grant; the thief puts the proof in the result record it
 * signs (field `grant`). A kad-dht validator sees only a key and a value, never who sent it or what
 * the owner decided, so the record has to carry the owner's word: a record whose executor is not its
 * owner is valid only with the owner's proof for exactly that task, executor and epoch. A thief can
 * therefore not sign a result for a task it was not granted, nor raise the epoch it was granted.
 *
 * The signed bytes are the UTF-8 of `taskmesh-grant/1\n<task id>\n<holder>\n<epoch>`; the prefix
 * keeps a proof from ever being read as a record batch signature (`taskmesh/result-batch/1\n…`).
 */

/** First line of every signed grant payload. */
export const GRANT_DOMAIN = 'taskmesh-grant/1'

/** Length in characters of a proof: the padded base64 of a 64-byte Ed25519 signature. */
export const GRANT_PROOF_CHARS = 88

/** The bytes an owner signs for a lease of `taskId` to `holder` under `epoch`. */
export function grantPayload(taskId: string, holder: string, epoch: number): Uint8Array {
  return fromString(`${GRANT_DOMAIN}\n${taskId}\n${holder}\n${epoch}`, 'utf8')
}

/** Signs grant proofs with an owner's Ed25519 key. */
export class GrantSigner {
  /**
   * @param counts where each proof signed is counted (`grantsSigned`).
   * @throws TypeError when the key is not Ed25519.
   */
  constructor(
    private readonly privateKey: PrivateKey,
    private readonly counts?: Pick<SignatureCounts, 'grantsSigned'>,
  ) {
    if (privateKey.type !== 'Ed25519') throw new TypeError('grant proofs need an Ed25519 key')
  }

  /** The proof (padded base64) that this owner leased `taskId` to `holder` under `epoch`. */
  sign(taskId: string, holder: string, epoch: number): string {
    if (this.counts !== undefined) this.counts.grantsSigned++
    return bytesToString(signEd25519(this.privateKey, grantPayload(taskId, holder, epoch)), 'base64pad')
  }
}

/**
 * Whether a grant is `owner`'s proof, memoised on every field at once (a record is checked on each
 * path it takes into a node: validator, selector, reads), so each lease's proof is verified once.
 * (Node's Ed25519 with the owner's parsed key, called here: `verifyByPeer` stays the batch signatures' check.)
 */
let grantChecksComputed = 0
const grantHolds = memoizeString((grant: string): boolean => {
  grantChecksComputed++
  const [owner, taskId, holder, epoch, proof] = grant.split('\n')
  if (proof === undefined || proof.length !== GRANT_PROOF_CHARS) return false
  let signature: Uint8Array
  try {
    signature = fromString(proof, 'base64pad')
  } catch {
    return false
  }
  const key = peerPublicKey(owner)
  if (key === undefined || signature.byteLength !== 64) return false
  try {
    return verify(null, grantPayload(taskId, holder, Number(epoch)), key, signature)
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
  // the fields cannot hold a newline (peer ids, task ids, base64), so the joined key is unambiguous
  if ([owner, taskId, holder, proof].some((f) => f.includes('\n'))) return false
  const before = grantChecksComputed
  const holds = grantHolds(`${owner}\n${taskId}\n${holder}\n${epoch}\n${proof}`)
  if (counts !== undefined) counts.grantsVerified += grantChecksComputed - before
  return holds
}

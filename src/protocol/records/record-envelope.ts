import { equals, fromString } from 'uint8arrays'
import { canonicalJson } from '../../task/task-id.ts'
import { fromBase64, toBase64 } from '../../util/base64.ts'
import { MAX_RECORD_BYTES } from '../constants.ts'
import { InvalidRecordError } from '../errors.ts'
import { peerPublicKey, verifyByPeer } from './ed25519.ts'
import { verifyGrantProof } from './grant-proof.ts'
import { leafHashOfText, type PathMemo, pathFits, rootFromTextPath } from './merkle.ts'
import { type ResultRecord, resultKey } from './result-record-schema.ts'
import type { SignatureCounts } from './signature-counts.ts'
import type { VerifiedRoots } from './verified-roots.ts'

const WHAT = 'result record'

/** A record's inclusion proof in the batch its executor signed (absent for a batch of one). */
export interface BatchProof {
  index: number
  size: number
  path: string[]
}

/** A signed record value as parsed JSON: what `signedResultSchema` accepts. */
export interface SignedEnvelope {
  record: ResultRecord
  signature: string
  proof?: BatchProof
}

/** A signed value with every check made but the signature's. */
export interface Unverified {
  record: ResultRecord
  /** The record's canonical JSON (its Merkle leaf's data); not made for a record `fromSigner`. */
  text?: string
  /** Root of the batch the record was signed in, base64 (the record's own leaf for a batch of one). */
  root: string
  rootBytes: Uint8Array
  /** The signature as carried (base64), the key of {@link VerifiedRoots}: decoded only to be checked. */
  signatureText: string
  /**
   * The record came from its executor itself, on its authenticated stream: its signature stands on
   * the executor's word, so no root was computed (`root` is empty).
   */
  fromSigner?: true
}

/** The root of a record taken on its signer's word: none computed. */
const NO_ROOT = new Uint8Array(0)

/** UTF-8 bytes of `text`, as a plain Uint8Array view. */
export function utf8Bytes(text: string): Uint8Array {
  const buf = Buffer.from(text, 'utf8')
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

/** Domain tag of the bytes an executor signs: this, then the 32-byte batch root. */
const BATCH_SIGNATURE_TAG = fromString('taskmesh/result-batch/1\n', 'utf8')

/** The Merkle leaf of a record: the leaf hash of the UTF-8 of `canonicalJson(record)`. */
export function recordLeaf(record: ResultRecord): Uint8Array {
  return leafHashOfText(canonicalJson(record))
}

/** The bytes an executor signs for a batch whose Merkle root is `root`. */
export function batchSigningPayload(root: Uint8Array): Uint8Array {
  const payload = new Uint8Array(BATCH_SIGNATURE_TAG.byteLength + root.byteLength)
  payload.set(BATCH_SIGNATURE_TAG)
  payload.set(root, BATCH_SIGNATURE_TAG.byteLength)
  return payload
}

/**
 * The stored form of a signed record: the JSON of `{ record, signature, proof? }` with the record
 * as its canonical text and the proof's keys in the order `index`, `size`, `path` — the bytes an
 * executor's {@link signResultBatch} makes, and those a `store` frame's receiver keeps.
 */
export function envelopeText(recordText: string, signature: string, proof?: BatchProof): string {
  return envelopePieces(recordText, signature, proof).join('')
}

/**
 * A stored value's text in pieces and its UTF-8 length: the pieces written one after another are
 * its bytes, and the joined text (a string V8 flattens into a fresh copy to measure or write) is
 * never made.
 */
export interface EnvelopeValue {
  pieces: readonly string[]
  bytes: number
}

/** {@link envelopeText} in pieces: joined, they are its text. */
export function envelopePieces(recordText: string, signature: string, proof?: BatchProof): string[] {
  return proof === undefined
    ? ['{"record":', recordText, ',"signature":"', signature, '"}']
    : [
        '{"record":',
        recordText,
        ',"signature":"',
        signature,
        '","proof":',
        JSON.stringify({ index: proof.index, size: proof.size, path: proof.path }),
        '}',
      ]
}

/**
 * Every check of a parsed value but the signature's: an executor with an embedded Ed25519 key, a
 * proof that fits its batch (climbed only until it meets a path climbed before, with `paths`), and,
 * with `expectedKey`, the key of the record's task. With `from` — the remote peer of the
 * authenticated stream the value came on — equal to the record's executor, the executor itself
 * sent it: its signature stands on its word (see `verified`), so the proof need only have the
 * shape of one of its batch, and no root is computed.
 * @throws InvalidRecordError naming what is wrong.
 */
export function checkEnvelope(
  envelope: SignedEnvelope,
  expectedKey: Uint8Array | undefined,
  paths?: PathMemo,
  from?: string,
): Unverified {
  const { record, proof } = envelope
  if (expectedKey !== undefined && !equals(expectedKey, resultKey(record.taskId))) {
    throw new InvalidRecordError(`${WHAT}: key does not match task id ${record.taskId}`)
  }
  if (peerPublicKey(record.executor) === undefined) {
    throw new InvalidRecordError(`${WHAT}: executor ${record.executor} has no embedded Ed25519 key`)
  }
  const signatureText = envelope.signature
  if (from === record.executor) {
    if (proof !== undefined && !pathFits(proof.index, proof.size, proof.path.length))
      throw new InvalidRecordError(`${WHAT}: proof does not fit a batch of ${proof.size}`)
    return { record, root: '', rootBytes: NO_ROOT, signatureText, fromSigner: true }
  }
  const text = canonicalJson(record)
  const leaf = leafHashOfText(text)
  const rootBytes =
    proof === undefined ? leaf : rootFromTextPath(leaf, proof.index, proof.size, proof.path, paths)
  if (rootBytes === undefined)
    throw new InvalidRecordError(`${WHAT}: proof does not fit a batch of ${proof?.size}`)
  return { record, text, root: toBase64(rootBytes), rootBytes, signatureText }
}

/**
 * True when the record came from its executor itself (`fromSigner`: its word stands here unchecked;
 * it is not remembered as checked — every reader, this node's own reads too, checks it), or when
 * the record's batch signature checks out (or was checked before, per `roots`).
 */
function signatureHolds(u: Unverified, roots: VerifiedRoots | undefined): boolean {
  const executor = u.record.executor
  if (u.fromSigner) {
    if (roots !== undefined) roots.counts.recordsFromSigner++
    return true
  }
  if (roots?.has(executor, u.root, u.signatureText)) return true
  const valid = verifyByPeer(executor, batchSigningPayload(u.rootBytes), fromBase64(u.signatureText))
  if (roots !== undefined) roots.counts.recordBatchesVerified++
  if (valid) roots?.add(executor, u.root, u.signatureText)
  return valid
}

/**
 * The authorization rule: a record signed by its owner stands on its own (the owner ran the task,
 * or ended it itself); a record signed by anyone else must carry the owner's grant proof for this
 * task, this executor and this epoch — the lease the owner granted (see `grant-proof.ts`).
 * Synchronous (the selector uses it).
 * @throws InvalidRecordError naming what is missing.
 */
export function checkGrant(
  record: ResultRecord,
  counts?: Pick<SignatureCounts, 'grantsVerified'>,
  roots?: Pick<VerifiedRoots, 'hasGrant'>,
): void {
  if (record.executor === record.owner) {
    if (record.grant !== undefined)
      throw new InvalidRecordError(`${WHAT}: the owner's own record carries a grant`)
    return
  }
  if (record.grant === undefined) {
    throw new InvalidRecordError(
      `${WHAT}: executor ${record.executor} is not the owner ${record.owner} and shows no grant from it`,
    )
  }
  const { owner, taskId, executor, epoch, grant } = record
  if (roots?.hasGrant(owner, taskId, executor, epoch, grant)) return // the proof this node made
  if (!verifyGrantProof(owner, taskId, executor, epoch, grant, counts)) {
    throw new InvalidRecordError(
      `${WHAT}: grant is not ${record.owner}'s lease of the task to ${record.executor} at epoch ${record.epoch}`,
    )
  }
}

/**
 * The last checks of a stored value (9.4): the batch signature (unless `roots` checked it before,
 * or the record came from its signer, `fromSigner`) and the owner's grant.
 * @throws InvalidRecordError naming which fails.
 */
export function verified(unverified: Unverified, roots: VerifiedRoots | undefined): Unverified {
  if (!signatureHolds(unverified, roots)) {
    throw new InvalidRecordError(`${WHAT}: bad signature by ${unverified.record.executor}`)
  }
  checkGrant(unverified.record, roots?.counts, roots)
  return unverified
}

/**
 * Refuses a stored value of `bytes` bytes over `MAX_RECORD_BYTES`.
 * @throws InvalidRecordError saying how large it is.
 */
export function refuseOversize(bytes: number): void {
  if (bytes > MAX_RECORD_BYTES) {
    throw new InvalidRecordError(`${WHAT}: ${bytes} bytes, over the limit of ${MAX_RECORD_BYTES}`)
  }
}

/**
 * Opens a signed record that came as parsed JSON (a `store` frame carries them so): every check of
 * a stored value (9.4), then the text of the value to keep — its stored form ({@link envelopeText}),
 * character for character the executor's own when the executor made it, in pieces with its UTF-8
 * length (see {@link EnvelopeValue}). The receiver derives the
 * key (`resultKey`). `from`: the frame's sender, on its authenticated stream (see `verified`).
 * @throws InvalidRecordError with the reason (a value over `MAX_RECORD_BYTES` included).
 */
export function openEnvelopeText(
  envelope: SignedEnvelope,
  roots?: VerifiedRoots,
  from?: string,
): { record: ResultRecord; value: EnvelopeValue } {
  const unverified = verified(checkEnvelope(envelope, undefined, roots?.paths, from), roots)
  const text = unverified.text ?? canonicalJson(unverified.record)
  const pieces = envelopePieces(text, envelope.signature, envelope.proof)
  let bytes = 0
  for (const piece of pieces) bytes += Buffer.byteLength(piece, 'utf8')
  refuseOversize(bytes)
  return { record: unverified.record, value: { pieces, bytes } }
}

/**
 * {@link openEnvelopeText} of a signed record whose stored form is `bytes` as they came: the
 * element of a `store` frame `envelope` was parsed from (see `arrayMemberSpans`), sent by the
 * record's executor (`from`) — the value it made and keeps — and kept as sent rather than written
 * anew. Every check is the same (a value need not be canonical text: every reader parses it and
 * checks the record's canonical JSON against its signature).
 * @throws InvalidRecordError with the reason (`bytes` over `MAX_RECORD_BYTES` included).
 */
export function openEnvelopeBytes(
  envelope: SignedEnvelope,
  bytes: Uint8Array,
  roots?: VerifiedRoots,
  from?: string,
): ResultRecord {
  const unverified = verified(checkEnvelope(envelope, undefined, roots?.paths, from), roots)
  refuseOversize(bytes.byteLength)
  return unverified.record
}

import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { canonicalJson } from '../../task/task-id.ts'
import { fromBase64, toBase64 } from '../../util/base64.ts'
import { decodeMessage, describeIssue } from '../codec.ts'
import { MAX_RECORD_BYTES } from '../constants.ts'
import { InvalidMessageError, InvalidRecordError } from '../errors.ts'
import { withFastPath } from '../messages/fast-path.ts'
import { signEd25519 } from './ed25519.ts'
import { leafHashOfText, merkleTree, type PathMemo } from './merkle.ts'
import {
  batchSigningPayload,
  checkEnvelope,
  checkGrant,
  envelopeText,
  refuseOversize,
  type Unverified,
  utf8Bytes,
  verified,
} from './record-envelope.ts'
import { isWellFormedRecord, isWellFormedSignedResult } from './record-fast-check.ts'
import {
  MAX_SIGNED_BATCH,
  type ResultRecord,
  resultRecordSchema,
  signedResultSchema,
} from './result-record-schema.ts'
import type { SignatureCounts } from './signature-counts.ts'
import type { VerifiedRoots } from './verified-roots.ts'

export { batchSigningPayload, openEnvelopeText, recordLeaf, type SignedEnvelope } from './record-envelope.ts'
export * from './result-record-schema.ts'

const WHAT = 'result record'

/** `signedResultSchema`, checked by `isWellFormedSignedResult` first (the schema only when it says no). */
const signedResultWireSchema = withFastPath(isWellFormedSignedResult, signedResultSchema)

/**
 * Every check but the signature's; synchronous, so the selector can use it too. With `paths`, a
 * record's inclusion path is climbed only until it meets one climbed before; with `from` (its
 * sender) its executor, not at all (see `checkEnvelope`).
 */
function parseSignedValue(
  value: Uint8Array,
  expectedKey: Uint8Array | undefined,
  paths?: PathMemo,
  from?: string,
): Unverified {
  let envelope: ReturnType<typeof signedResultSchema.parse>
  try {
    envelope = decodeMessage(signedResultWireSchema, value, MAX_RECORD_BYTES, WHAT)
  } catch (err) {
    if (err instanceof InvalidMessageError) throw new InvalidRecordError(err.message)
    throw new InvalidRecordError(`${WHAT}: ${(err as Error).message}`)
  }
  return checkEnvelope(envelope, expectedKey, paths, from)
}

/**
 * Signs a batch of result records with their executor's key in one signature, over the Merkle
 * root of the records' leaves (see `merkle.ts`), and returns each record's value to store in the
 * DHT: UTF-8 JSON `{ "record": <record>, "signature": "<base64 Ed25519 signature over the batch
 * root>", "proof": { "index", "size", "path": [<base64 sibling hashes>] } }` — without `proof` for
 * a batch of one, whose root is the record's own leaf.
 * @throws InvalidRecordError when a record is malformed, the key is not the Ed25519 key of every
 *   record's `executor`, the batch is empty or over `MAX_SIGNED_BATCH`, or a value would exceed
 *   `MAX_RECORD_BYTES` (shorten the output), or a record of an executor other than its owner lacks
 *   the owner's grant for it.
 * With `counts`, the signature made, the records it covers and the grant proofs checked are counted;
 * a grant proof `roots` knows (one this node made, or took from the owner itself) is not checked again.
 */
export function signResultBatch(
  records: ResultRecord[],
  privateKey: PrivateKey,
  counts?: SignatureCounts,
  roots?: Pick<VerifiedRoots, 'hasGrant'>,
): Uint8Array[] {
  if (records.length === 0 || records.length > MAX_SIGNED_BATCH) {
    throw new InvalidRecordError(
      `${WHAT}: a signed batch holds 1 to ${MAX_SIGNED_BATCH} records, got ${records.length}`,
    )
  }
  if (privateKey.type !== 'Ed25519') throw new InvalidRecordError(`${WHAT}: signing key is not Ed25519`)
  const signer = signerOf(privateKey)
  const parsed = records.map((record) => {
    // the node's own records: the fast check, and the schema (for its message) only when it says no
    let data = record
    if (!isWellFormedRecord(record)) {
      const result = resultRecordSchema.safeParse(record)
      if (!result.success) throw new InvalidRecordError(`${WHAT}: ${describeIssue(result.error, record)}`)
      data = result.data
    }
    if (signer !== data.executor) {
      throw new InvalidRecordError(`${WHAT}: executor ${data.executor} is not the signing peer ${signer}`)
    }
    checkGrant(data, counts, roots)
    return data
  })
  // each record is serialised once: its canonical JSON is both its leaf's data and its part of the value
  const texts = parsed.map((record) => canonicalJson(record))
  const leaves = texts.map(leafHashOfText)
  const tree = merkleTree(leaves)
  const signature = toBase64(signEd25519(privateKey, batchSigningPayload(tree.root)))
  if (counts !== undefined) {
    counts.recordBatchesSigned++
    counts.recordsSigned += parsed.length
  }
  const { paths } = tree
  return texts.map((text, index) => {
    const proof =
      parsed.length === 1 ? undefined : { index, size: parsed.length, path: paths[index].map(toBase64) }
    const value = utf8Bytes(envelopeText(text, signature, proof))
    refuseOversize(value.byteLength)
    return value
  })
}

const signers = new WeakMap<PrivateKey, string>()

/** The peer id string of a private key (computed once per key). */
function signerOf(privateKey: PrivateKey): string {
  let id = signers.get(privateKey)
  if (id === undefined) {
    id = peerIdFromPrivateKey(privateKey).toString()
    signers.set(privateKey, id)
  }
  return id
}

/**
 * Signs one result record (a batch of one) and returns the value to store in the DHT; see
 * {@link signResultBatch}.
 * @throws InvalidRecordError as {@link signResultBatch} does.
 */
export async function signResultRecord(record: ResultRecord, privateKey: PrivateKey): Promise<Uint8Array> {
  return signResultBatch([record], privateKey)[0]
}

/**
 * Checks a stored value and returns its record. Refuses (in this order) oversized values, bad
 * UTF-8/JSON/schema, a key other than `resultKey(record.taskId)` (when `expectedKey` is given), an
 * executor that is not a peer id with an embedded Ed25519 key, a proof that fits no batch, a
 * signature that does not verify over the batch root, and a record of an executor other than its
 * owner without the owner's grant for it (see `checkGrant`). With `roots`, a root already checked there
 * under the same signature is not checked again, nor a grant proof the node made itself; nor, with
 * `from` (the sender on an authenticated stream) equal to the record's executor, the signature of
 * a batch its executor sent itself.
 * @throws InvalidRecordError with the reason.
 */
export function openResultRecordSync(
  value: Uint8Array,
  expectedKey?: Uint8Array,
  roots?: VerifiedRoots,
  from?: string,
): ResultRecord {
  return openSignedValue(value, expectedKey, roots, from).record
}

/**
 * {@link openResultRecordSync}, with the signature bytes the selector orders by.
 * @throws InvalidRecordError with the reason.
 */
export function openSignedValue(
  value: Uint8Array,
  expectedKey?: Uint8Array,
  roots?: VerifiedRoots,
  from?: string,
): { record: ResultRecord; signature: Uint8Array } {
  const unverified = verified(parseSignedValue(value, expectedKey, roots?.paths, from), roots)
  return { record: unverified.record, signature: fromBase64(unverified.signatureText) }
}

/** {@link openResultRecordSync}, as a promise (rejects with InvalidRecordError). */
export async function openResultRecord(
  value: Uint8Array,
  expectedKey?: Uint8Array,
  roots?: VerifiedRoots,
): Promise<ResultRecord> {
  return openResultRecordSync(value, expectedKey, roots)
}

/**
 * kad-dht validator (`ValidateFn`) for keys under `/taskmesh-result/`: resolves when the value is
 * a valid signed record for that key.
 * @throws InvalidRecordError otherwise.
 */
export async function resultValidator(key: Uint8Array, value: Uint8Array): Promise<void> {
  openResultRecordSync(value, key)
}

/**
 * Reads a value this node has verified already (e.g. its gossip validator accepted the notice
 * that carried it): every check but the signature's, which is the expensive one.
 * @throws InvalidRecordError when the value is malformed.
 */
export function readVerifiedResultRecord(value: Uint8Array): ResultRecord {
  return parseSignedValue(value, undefined).record
}

import { compare } from 'uint8arrays'
import { openSignedValue, type ResultRecord } from './result-record.ts'
import type { VerifiedRoots } from './verified-roots.ts'

/**
 * The result selector: which of several signed values of one result key every node keeps and
 * serves. The order is total and the same everywhere, so all nodes pick the same record.
 */

interface Candidate {
  index: number
  /** `undefined` when the value is invalid. */
  record: ResultRecord | undefined
  signature: Uint8Array
  value: Uint8Array
}

/** Checks a value synchronously for the selector. */
function candidate(
  key: Uint8Array,
  value: Uint8Array,
  index: number,
  roots: VerifiedRoots | undefined,
): Candidate {
  const invalid = { index, record: undefined, signature: new Uint8Array(0), value }
  try {
    return { index, ...openSignedValue(value, key, roots), value }
  } catch {
    return invalid
  }
}

/** Negative when `a` should be chosen over `b`. A total order: equal only for equal bytes. */
function compareCandidates(a: Candidate, b: Candidate): number {
  if (a.record === undefined || b.record === undefined) {
    if (a.record !== b.record) return a.record === undefined ? 1 : -1
    return compare(a.value, b.value)
  }
  if (a.record.epoch !== b.record.epoch) return b.record.epoch - a.record.epoch
  if (a.record.status !== b.record.status) return a.record.status === 'succeeded' ? -1 : 1
  if (a.record.finishedAt !== b.record.finishedAt) return a.record.finishedAt - b.record.finishedAt
  const bySignature = compare(a.signature, b.signature)
  if (bySignature !== 0) return bySignature
  return compare(a.value, b.value)
}

/**
 * kad-dht selector (`SelectFn`) for result keys: the index of the best value. Invalid or
 * unparseable values lose; then the highest epoch wins; then `succeeded` over `failed`; then the
 * earliest `finishedAt`; then the lexicographically smallest signature bytes; then the smallest
 * value bytes. Deterministic: any permutation of the same values selects the same value (when none
 * is valid, the one with the smallest bytes; `0` for an empty list).
 */
export function resultSelector(key: Uint8Array, values: Uint8Array[], roots?: VerifiedRoots): number {
  let best: Candidate | undefined
  for (let i = 0; i < values.length; i++) {
    const c = candidate(key, values[i], i, roots)
    if (best === undefined || compareCandidates(c, best) < 0) best = c
  }
  return best?.index ?? 0
}

/** The selector of a node that remembers the batch roots it checked (see {@link VerifiedRoots}). */
export function createResultSelector(
  roots: VerifiedRoots,
): (key: Uint8Array, values: Uint8Array[]) => number {
  return (key, values) => resultSelector(key, values, roots)
}

/**
 * The selector's order on two records already verified: negative when `a` wins, positive when
 * `b` wins, 0 when only the signature bytes could tell them apart (use {@link resultSelector}).
 */
export function compareResultRecords(a: ResultRecord, b: ResultRecord): number {
  if (a.epoch !== b.epoch) return b.epoch - a.epoch
  if (a.status !== b.status) return a.status === 'succeeded' ? -1 : 1
  return a.finishedAt - b.finishedAt
}

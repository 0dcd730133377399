import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { memoizeString } from '../util/memo.ts'
import type { TaskSpec } from './spec.ts'

/** Serialises a JSON value with object keys sorted, so equal values give equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v
    const sorted: Record<string, unknown> = {}
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k]
    return sorted
  })
}

/**
 * The content-derived id of a task: a CIDv1 (raw codec, sha2-256) of the canonical JSON of
 * `{ spec, submitter, nonce }`, in base32. The same spec submitted twice with different nonces
 * gives two tasks; a replayed submission with the same nonce gives the same id.
 */
export function taskId(spec: TaskSpec, submitter: string, nonce: string): string {
  const bytes = new TextEncoder().encode(canonicalJson({ spec, submitter, nonce }))
  const hash = createHash('sha256').update(bytes).digest()
  return CID.createV1(raw.code, createDigest(sha256.code, hash)).toString()
}

/** True when `id` parses as a CIDv1 raw/sha2-256 string, the shape `taskId` produces. */
export const isTaskId: (id: string) => boolean = memoizeString((id) => {
  try {
    const cid = CID.parse(id)
    return cid.version === 1 && cid.code === raw.code && cid.multihash.code === sha256.code
  } catch {
    return false
  }
})

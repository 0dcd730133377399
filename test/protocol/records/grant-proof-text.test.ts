import { describe, expect, it } from 'vitest'
import { GrantSigner } from '../../../src/protocol/records/grant-proof.ts'
import {
  GRANT_PROOF_PATTERN,
  isGrantProofText,
  MAX_GRANT_PROOF_CHARS,
} from '../../../src/protocol/records/grant-proof-text.ts'
import { seededRandom } from '../../../src/simulation/random.ts'
import { isCanonicalBase64 } from '../../../src/util/base64.ts'
import { EXECUTOR, makeTask, ownerKey } from '../fixtures.ts'

/** The form as the pattern and the canonical-base64 check of each part say it (the specification). */
function byPattern(proof: string): boolean {
  if (proof.length > MAX_GRANT_PROOF_CHARS || !GRANT_PROOF_PATTERN.test(proof)) return false
  const parts = proof.split('.')
  return isCanonicalBase64(parts[0]) && parts.slice(3).every(isCanonicalBase64)
}

/** Proofs of batches of every size from 1 to 40 and of 100 to 1,024 (paths of 0 to 10 hashes). */
function realProofs(): string[] {
  const signer = new GrantSigner(ownerKey)
  const out: string[] = []
  for (const size of [...Array.from({ length: 40 }, (_, i) => i + 1), 100, 200, 300, 600, 1024]) {
    const leases = Array.from({ length: size }, (_, i) => ({ taskId: makeTask(i + 1).id, epoch: 1 }))
    const proofs = signer.signAll(EXECUTOR, leases)
    out.push(proofs[0], proofs[size - 1], proofs[Math.floor(size / 2)])
  }
  return out
}

const SWAPS = [
  '.',
  '=',
  '0',
  '1',
  '9',
  'A',
  'B',
  'Q',
  'g',
  'z',
  '+',
  '/',
  '-',
  '_',
  ' ',
  '\n',
  'é',
  '\u{1F600}',
  '',
]

describe('isGrantProofText', () => {
  it('takes every proof a signer makes, lone or batched, with paths of 0 to 10 hashes', () => {
    const proofs = realProofs()
    expect(new Set(proofs.map((p) => p.split('.').length))).toEqual(
      new Set([1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]),
    )
    for (const p of proofs) expect(isGrantProofText(p), p).toBe(true)
  })

  it('agrees with the pattern and the canonical base64 check on every change of a character', () => {
    const random = seededRandom(7)
    let refused = 0
    for (const proof of realProofs()) {
      for (let k = 0; k < 60; k++) {
        const at = Math.floor(random() * (proof.length + 1))
        const swap = SWAPS[Math.floor(random() * SWAPS.length)]
        // replace, insert or cut at `at`
        const mode = Math.floor(random() * 3)
        const text =
          mode === 0
            ? proof.slice(0, at) + swap + proof.slice(at + 1)
            : mode === 1
              ? proof.slice(0, at) + swap + proof.slice(at)
              : proof.slice(0, at)
        expect(isGrantProofText(text), JSON.stringify(text)).toBe(byPattern(text))
        if (!byPattern(text)) refused++
      }
    }
    expect(refused).toBeGreaterThan(1000) // the changes mostly break the form: both must say so
  })

  it('refuses spare bits set, leading zeros, a size below 2, 11 hashes and what is not a string', () => {
    const [lone] = new GrantSigner(ownerKey).signAll(EXECUTOR, [{ taskId: makeTask(1).id, epoch: 1 }])
    const batch = new GrantSigner(ownerKey).signAll(
      EXECUTOR,
      Array.from({ length: 3 }, (_, i) => ({ taskId: makeTask(i + 1).id, epoch: 1 })),
    )[0]
    const [signature, , , hash] = batch.split('.')
    const texts = [
      `${lone.slice(0, 85)}B==`, // the last character before "==" carries bits beyond the 64 bytes
      `${signature}.00.3.${hash}`,
      `${signature}.0.03.${hash}`,
      `${signature}.0.1.${hash}`,
      `${signature}.0.10000.${hash}`,
      `${signature}.0.3.${hash.slice(0, 42)}B=`,
      `${signature}.0.3${`.${hash}`.repeat(11)}`,
      `${signature}.0.3`,
      `${signature}.0.3.`,
      null,
      88,
    ]
    for (const text of texts) {
      expect(isGrantProofText(text), String(text)).toBe(false)
      if (typeof text === 'string') expect(byPattern(text), text).toBe(false)
    }
    expect(isGrantProofText(`${signature}.0.3${`.${hash}`.repeat(10)}`)).toBe(true)
  })
})

import { describe, expect, it } from 'vitest'
import { signEd25519 } from '../../../src/protocol/records/ed25519.ts'
import { GrantSigner, verifyGrantProof } from '../../../src/protocol/records/grant-proof.ts'
import { isGrantProofText } from '../../../src/protocol/records/grant-proof-text.ts'
import {
  batchSigningPayload,
  openResultRecord,
  openResultRecordSync,
  recordLeaf,
  resultKey,
  signResultBatch,
  signResultRecord,
} from '../../../src/protocol/records/result-record.ts'
import { createSignatureCounts } from '../../../src/protocol/records/signature-counts.ts'
import { MAX_ISSUED_GRANTS, VerifiedRoots } from '../../../src/protocol/records/verified-roots.ts'
import { canonicalJson } from '../../../src/task/task-id.ts'
import { toBase64 } from '../../../src/util/base64.ts'
import { EXECUTOR, executorKey, makeRecord, makeTask, OWNER, ownerKey, STRANGER } from '../fixtures.ts'

const leases = Array.from({ length: 5 }, (_, i) => ({ taskId: makeTask(i + 1).id, epoch: i + 1 }))

describe('grant proofs signed together', () => {
  it('one signature proves every lease of a grant, each with its own path', () => {
    const counts = createSignatureCounts()
    const proofs = new GrantSigner(ownerKey, counts).signAll(EXECUTOR, leases)
    expect(counts).toMatchObject({ grantsSigned: 5, grantBatchesSigned: 1 })
    expect(new Set(proofs.map((p) => p.split('.')[0])).size).toBe(1)
    for (const [i, { taskId, epoch }] of leases.entries()) {
      expect(isGrantProofText(proofs[i])).toBe(true)
      expect(verifyGrantProof(OWNER, taskId, EXECUTOR, epoch, proofs[i])).toBe(true)
      // a proof holds for its own lease only
      const other = leases[(i + 1) % leases.length]
      expect(verifyGrantProof(OWNER, other.taskId, EXECUTOR, other.epoch, proofs[i])).toBe(false)
      expect(verifyGrantProof(OWNER, taskId, STRANGER, epoch, proofs[i])).toBe(false)
      expect(verifyGrantProof(OWNER, taskId, EXECUTOR, epoch + 1, proofs[i])).toBe(false)
    }
  })

  it('a lone lease keeps the 88-character proof', () => {
    const [proof] = new GrantSigner(ownerKey).signAll(EXECUTOR, leases.slice(0, 1))
    expect(proof).toHaveLength(88)
    expect(proof).toBe(new GrantSigner(ownerKey).sign(leases[0].taskId, EXECUTOR, leases[0].epoch))
  })

  it('refuses a proof whose place, size or path was changed, or that is not of the form', () => {
    const proofs = new GrantSigner(ownerKey).signAll(EXECUTOR, leases)
    const { taskId, epoch } = leases[2]
    const [signature, index, size, ...path] = proofs[2].split('.')
    const changed = [
      [signature, '3', size, ...path],
      [signature, index, '3', ...path],
      [signature, index, size, ...path.slice(1)],
      [signature, index, size, ...path.reverse()],
    ].map((parts) => parts.join('.'))
    for (const proof of changed)
      expect(verifyGrantProof(OWNER, taskId, EXECUTOR, epoch, proof), proof).toBe(false)
    for (const text of [`${signature}.1`, `${signature}.01.5.${path[0]}`, `${proofs[2]}.`, 'x'.repeat(88)])
      expect(isGrantProofText(text), text).toBe(false)
  })

  it('a record carrying a batched proof opens; with a proof of another lease it does not', async () => {
    const proofs = new GrantSigner(ownerKey).signAll(EXECUTOR, leases)
    const task = makeTask(3)
    expect(task.id).toBe(leases[2].taskId)
    const record = makeRecord({ taskId: task.id, epoch: 3, grant: proofs[2] })
    const key = resultKey(task.id)
    expect(await openResultRecord(await signResultRecord(record, executorKey), key)).toEqual(record)
    await expect(signResultRecord({ ...record, grant: proofs[1] }, executorKey)).rejects.toThrow(
      /grant is not/,
    )
  })

  it("an owner's node remembers the proofs it made: a record carrying one needs no check there", () => {
    const roots = new VerifiedRoots()
    const proofs = new GrantSigner(ownerKey, undefined, roots).signAll(EXECUTOR, leases)
    for (const [i, { taskId, epoch }] of leases.entries()) {
      expect(roots.hasGrant(OWNER, taskId, EXECUTOR, epoch, proofs[i])).toBe(true)
      // exactly that lease: any other field, or the proof of another lease, is not one it made
      expect(roots.hasGrant(STRANGER, taskId, EXECUTOR, epoch, proofs[i])).toBe(false)
      expect(roots.hasGrant(OWNER, taskId, STRANGER, epoch, proofs[i])).toBe(false)
      expect(roots.hasGrant(OWNER, taskId, EXECUTOR, epoch + 1, proofs[i])).toBe(false)
      expect(roots.hasGrant(OWNER, taskId, EXECUTOR, epoch, proofs[(i + 1) % proofs.length])).toBe(false)
    }
    // a record whose executor signature holds but whose proof the owner never made: the executor
    // signs it by hand (signResultRecord refuses it), so only the remembered proof can let it in
    const task = makeTask(3)
    const unmade = `${'A'.repeat(86)}==`
    const record = makeRecord({ taskId: task.id, epoch: 3, grant: unmade })
    const signature = toBase64(signEd25519(executorKey, batchSigningPayload(recordLeaf(record))))
    const value = Buffer.from(`{"record":${canonicalJson(record)},"signature":"${signature}"}`)
    const key = resultKey(task.id)
    expect(() => openResultRecordSync(value, key, roots)).toThrow(/grant is not/)
    roots.addGrant(OWNER, task.id, EXECUTOR, 3, unmade)
    expect(openResultRecordSync(value, key, roots)).toEqual(record)
    expect(() => openResultRecordSync(value, key, new VerifiedRoots())).toThrow(/grant is not/)
  })

  it('remembers a bounded number of the proofs it made, the oldest going first', () => {
    const roots = new VerifiedRoots()
    const proof = `${'A'.repeat(86)}==`
    for (let epoch = 1; epoch <= MAX_ISSUED_GRANTS + 1; epoch++)
      roots.addGrant(OWNER, leases[0].taskId, EXECUTOR, epoch, proof)
    expect(roots.hasGrant(OWNER, leases[0].taskId, EXECUTOR, 1, proof)).toBe(false)
    expect(roots.hasGrant(OWNER, leases[0].taskId, EXECUTOR, 2, proof)).toBe(true)
    expect(roots.hasGrant(OWNER, leases[0].taskId, EXECUTOR, MAX_ISSUED_GRANTS + 1, proof)).toBe(true)
  })

  it('a thief signs its record under a proof it took from the owner without checking it again', () => {
    // leases no other test signed: the process remembers the checks it computed
    const own = leases.map((l) => ({ ...l, epoch: l.epoch + 100 }))
    const proofs = new GrantSigner(ownerKey).signAll(EXECUTOR, own)
    const record = makeRecord({ taskId: own[2].taskId, epoch: 103, grant: proofs[2] })
    const counts = createSignatureCounts()
    signResultBatch([record], executorKey, counts)
    expect(counts.grantsVerified).toBe(1)
    // the thief remembered the proof as it took the lease from the owner's answer
    const taken = new VerifiedRoots()
    taken.addGrant(OWNER, record.taskId, EXECUTOR, 103, proofs[2])
    const fresh = createSignatureCounts()
    const [alone] = new GrantSigner(ownerKey).signAll(EXECUTOR, [own[3]]) // a signature of its own
    const other = makeRecord({ taskId: own[3].taskId, epoch: 104, grant: alone })
    const [value] = signResultBatch(
      [{ ...record, finishedAt: record.finishedAt + 1 }],
      executorKey,
      fresh,
      taken,
    )
    expect(fresh.grantsVerified).toBe(0)
    expect(openResultRecordSync(value, resultKey(record.taskId)).grant).toBe(proofs[2])
    // a lease it did not take that way is checked as before
    signResultBatch([other], executorKey, fresh, taken)
    expect(fresh.grantsVerified).toBe(1)
    // a bad proof in the owner's answer is signed into the thief's record, but every other node
    // refuses that record: it spoils only the owner's task
    const bad = `${'A'.repeat(86)}==`
    taken.addGrant(OWNER, own[4].taskId, EXECUTOR, 105, bad)
    const spoilt = makeRecord({ taskId: own[4].taskId, epoch: 105, grant: bad })
    const [refused] = signResultBatch([spoilt], executorKey, createSignatureCounts(), taken)
    expect(() => openResultRecordSync(refused, resultKey(spoilt.taskId), new VerifiedRoots())).toThrow(
      /grant is not/,
    )
  })
})

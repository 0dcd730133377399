import { readFile, rm, writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GrantSigner } from '../../src/protocol/records/grant-proof.ts'
import {
  batchSigningPayload,
  type ResultRecord,
  recordLeaf,
  recordToBase64,
  signResultBatch,
} from '../../src/protocol/records/result-record.ts'
import {
  EXECUTOR,
  executorKey,
  LEASE_PROOF,
  makeRecord,
  makeTask,
  OWNER,
  ownerKey,
} from '../protocol/fixtures.ts'

/**
 * docs/PROTOCOL.md's sample code is what a third party copies to verify records: this runs it as
 * written — section 3.3's `canonicalJson` and section 11's `openRecord` — against section 9.3's
 * example record, batches with proofs, and forgeries, so the document cannot drift from the nodes.
 */

const DOC = fileURLToPath(new URL('../../docs/PROTOCOL.md', import.meta.url))
/** Inside the repository, so the sample's imports (`@libp2p/peer-id`) resolve as a reader's would. */
const MODULE = fileURLToPath(new URL(`./.protocol-sample-${process.pid}.mjs`, import.meta.url))

type OpenRecord = (taskId: string, base64: string) => Promise<ResultRecord>

let doc: string
let openRecord: OpenRecord

/** The fenced ```ts block of the document that contains `marker`. */
function tsBlock(marker: string): string {
  const block = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes(marker))
  if (block === undefined) throw new Error(`docs/PROTOCOL.md has no ts block with ${marker}`)
  return block
}

beforeAll(async () => {
  doc = await readFile(DOC, 'utf8')
  // imports first (section 11's block starts with them); function declarations are hoisted
  const source = `${tsBlock('async function openRecord')}\n${tsBlock('function canonicalJson')}\nexport { openRecord }\n`
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText
  await writeFile(MODULE, js)
  ;({ openRecord } = (await import(pathToFileURL(MODULE).href)) as { openRecord: OpenRecord })
})

afterAll(() => rm(MODULE, { force: true }))

/** Section 9.3's example value: the JSON line that starts with `{"record":`. */
function exampleValue(): string {
  const line = doc.split('\n').find((l) => l.startsWith('{"record":{'))
  if (line === undefined) throw new Error('docs/PROTOCOL.md has no example record value')
  return line
}

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64')

describe("PROTOCOL.md's openRecord, run as written", () => {
  it("verifies section 9.3's example record (a thief's, with its owner's grant)", async () => {
    const value = exampleValue()
    const { record } = JSON.parse(value) as { record: ResultRecord }
    expect(record.executor).not.toBe(record.owner)
    expect(await openRecord(record.taskId, base64(value))).toEqual(record)
  })

  it('refuses the example tampered with, another task, a wrong grant, and non-canonical base64', async () => {
    const signed = JSON.parse(exampleValue()) as { record: ResultRecord; signature: string }
    const { taskId } = signed.record
    const with_ = (record: Partial<ResultRecord>) =>
      base64(JSON.stringify({ ...signed, record: { ...signed.record, ...record } }))
    await expect(openRecord(taskId, with_({ output: { msg: 'hi', n: 3 } }))).rejects.toThrow('bad signature')
    await expect(openRecord(makeTask(5).id, base64(exampleValue()))).rejects.toThrow(
      'record for another task',
    )
    await expect(openRecord(taskId, with_({ grant: undefined }))).rejects.toThrow('bad signature')
    const bent = base64(exampleValue()).replace(/=*$/, (pad) => pad.slice(1)) // padding dropped
    await expect(openRecord(taskId, bent)).rejects.toThrow('not canonical base64')
  })

  it('verifies every record of a batch through its proof, and refuses a grant for another lease', async () => {
    const tasks = [makeTask(11), makeTask(12), makeTask(13)]
    const owned = tasks.map((t) =>
      makeRecord({ taskId: t.id, executor: OWNER, owner: OWNER, grant: undefined }),
    )
    const values = signResultBatch(owned, ownerKey)
    for (const [i, value] of values.entries()) {
      expect(JSON.parse(Buffer.from(value).toString('utf8')).proof).toMatchObject({ index: i, size: 3 })
      expect(await openRecord(tasks[i].id, recordToBase64(value))).toEqual(owned[i])
    }
    // a thief's record carrying the grant of another task's lease: signed fine, refused by the grant check
    const stolen = makeRecord({
      taskId: tasks[0].id,
      executor: EXECUTOR,
      owner: OWNER,
      epoch: 1,
      grant: LEASE_PROOF,
    })
    // (signResultBatch checks grants and would refuse: sign it by hand, as a forger would)
    const signature = await executorKey.sign(batchSigningPayload(recordLeaf(stolen)))
    const forged = new TextEncoder().encode(
      JSON.stringify({ record: stolen, signature: Buffer.from(signature).toString('base64') }),
    )
    await expect(openRecord(tasks[0].id, recordToBase64(forged))).rejects.toThrow('bad grant')
  })

  it("verifies thieves' records whose leases were granted together, and refuses a swapped proof", async () => {
    const tasks = [makeTask(21), makeTask(22), makeTask(23)]
    const proofs = new GrantSigner(ownerKey).signAll(
      EXECUTOR,
      tasks.map((t) => ({ taskId: t.id, epoch: 2 })),
    )
    const stolen = tasks.map((t, i) =>
      makeRecord({ taskId: t.id, executor: EXECUTOR, owner: OWNER, epoch: 2, grant: proofs[i] }),
    )
    const values = signResultBatch(stolen, executorKey)
    for (const [i, value] of values.entries())
      expect(await openRecord(tasks[i].id, recordToBase64(value))).toEqual(stolen[i])
    const swapped = { ...stolen[0], grant: proofs[1] }
    const signature = await executorKey.sign(batchSigningPayload(recordLeaf(swapped)))
    const forged = new TextEncoder().encode(
      JSON.stringify({ record: swapped, signature: Buffer.from(signature).toString('base64') }),
    )
    await expect(openRecord(tasks[0].id, recordToBase64(forged))).rejects.toThrow('bad grant')
  })
})

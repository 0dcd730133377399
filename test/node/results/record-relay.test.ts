import { createHash } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { MemoryDatastore } from 'datastore-core'
import { compare } from 'uint8arrays'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dhtRecordKey, readStoredResult } from '../../../src/node/results/fencing.ts'
import { RecordReplicator } from '../../../src/node/results/record-replicator.ts'
import { createMeshLibp2p, type MeshLibp2p } from '../../../src/node/wire/libp2p-factory.ts'
import { decodeMessage } from '../../../src/protocol/codec.ts'
import { MAX_FRAME_BYTES, REPLICATE_PROTOCOL } from '../../../src/protocol/constants.ts'
import { InvalidMessageError } from '../../../src/protocol/errors.ts'
import {
  type ReplicateReply,
  replicateReplySchema,
  storeRequestSchema,
} from '../../../src/protocol/messages/replicate-messages.ts'
import {
  type ResultRecord,
  resultKey,
  type SignedEnvelope,
  signResultRecord,
} from '../../../src/protocol/records/result-record.ts'
import { RpcSession } from '../../../src/protocol/rpc/rpc-session.ts'
import { MAX_OUTPUT_DEPTH } from '../../../src/task/limits.ts'
import { makeRecord, makeTask, OWNER } from '../../protocol/fixtures.ts'

/**
 * The `relay` of a `store` frame, on a chain of real nodes: a sender connected to B only, and B
 * connected to C. The sender speaks the replicate protocol itself, so which peer gets the frame
 * does not depend on whom kad-dht happened to dial.
 */
interface Member {
  libp2p: MeshLibp2p
  datastore: MemoryDatastore
  replicator: RecordReplicator
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest()
const distance = (peer: PeerId, key: Uint8Array) => {
  const target = sha(key)
  return sha(peer.toMultihash().bytes).map((b, i) => b ^ target[i])
}

async function startMember(): Promise<Member> {
  const datastore = new MemoryDatastore()
  const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), datastore })
  await libp2p.start()
  const replicator = new RecordReplicator({ libp2p, datastore })
  await replicator.start()
  return { libp2p, datastore, replicator }
}

async function until(predicate: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`until: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('store frames with relay', () => {
  let sender: MeshLibp2p
  let b: Member
  let c: Member
  let session: RpcSession<ReplicateReply>
  const signer = generateKeyPair('Ed25519')
  let seq = 0

  /** A signed record whose key satisfies `wanted` (drawn until one does). */
  async function recordWhere(
    wanted: (key: Uint8Array) => boolean,
    output: ResultRecord['output'] = null,
  ): Promise<{ key: Uint8Array; envelope: SignedEnvelope }> {
    const privateKey = await signer
    for (;;) {
      const executor = sender.peerId.toString()
      const record = makeRecord({
        taskId: makeTask(5000 + seq++).id,
        executor,
        owner: OWNER,
        attempts: [{ executor, epoch: 2, startedAt: 30, finishedAt: 40 }],
        output,
      })
      const key = resultKey(record.taskId)
      if (wanted(key))
        return {
          key,
          envelope: JSON.parse(Buffer.from(await signResultRecord(record, privateKey)).toString()),
        }
    }
  }

  const closerToC = (key: Uint8Array) =>
    compare(distance(c.libp2p.peerId, key), distance(b.libp2p.peerId, key)) < 0 &&
    compare(distance(c.libp2p.peerId, key), distance(sender.peerId, key)) < 0
  const closerToB = (key: Uint8Array) =>
    compare(distance(b.libp2p.peerId, key), distance(c.libp2p.peerId, key)) < 0

  const store = (records: SignedEnvelope[], relay?: number[], ahead?: string[][]) =>
    session.request(
      {
        type: 'store',
        requestId: crypto.randomUUID(),
        records,
        ...(relay === undefined ? {} : { relay }),
        ...(ahead === undefined ? {} : { ahead }),
      },
      AbortSignal.timeout(10_000),
    )
  const holds = async (m: Member, key: Uint8Array) => m.datastore.has(dhtRecordKey(key))

  beforeAll(async () => {
    sender = await createMeshLibp2p({
      privateKey: await signer,
      datastore: new MemoryDatastore(),
    })
    await sender.start()
    ;[b, c] = await Promise.all([startMember(), startMember()])
    await b.libp2p.dial(c.libp2p.getMultiaddrs()[0])
    await sender.dial(b.libp2p.getMultiaddrs()[0])
    // B passes records on only to peers it knows serve the protocol (identify)
    await until(
      async () => (await b.libp2p.peerStore.get(c.libp2p.peerId)).protocols.includes(REPLICATE_PROTOCOL),
      'B knows C serves the replicate protocol',
    )
    session = new RpcSession<ReplicateReply>({
      open: (signal) => sender.dialProtocol(b.libp2p.peerId, REPLICATE_PROTOCOL, { signal }),
      replySchema: replicateReplySchema,
      maxBytes: MAX_FRAME_BYTES,
      what: 'store reply',
    })
  })

  afterAll(async () => {
    session.close()
    for (const m of [b, c]) await m.replicator.stop()
    await Promise.all([sender.stop(), b.libp2p.stop(), c.libp2p.stop()])
  })

  it('a kept record asked to relay goes on to a connected peer closer to its key', async () => {
    const far = await recordWhere(closerToC)
    const reply = await store([far.envelope], [0])
    expect(reply).toMatchObject({ type: 'stored', outcomes: ['stored'] })
    expect(await holds(b, far.key)).toBe(true)
    await until(() => holds(c, far.key), 'C holds the relayed record')
  })

  it('goes on when the peers said to hold it are others than its closer neighbour', async () => {
    // the sender gave a copy to a closer peer B is not connected to: C still lacks it
    const far = await recordWhere(closerToC)
    await store([far.envelope], [0], [['0badc0de']])
    await until(() => holds(c, far.key), 'C holds the relayed record')
  })

  it('goes no further where the receiver is the closest it knows, where the closer peers hold copies already, where it was held already, nor without relay', async () => {
    const near = await recordWhere(closerToB)
    const unasked = await recordWhere(closerToC)
    const counted = await recordWhere(closerToC)
    const held = await recordWhere(closerToC)
    const marker = await recordWhere(closerToC)
    // `held`: B keeps it without relaying, then is asked to relay it: it went on from B before, or
    // B was meant to keep it only — no second chain starts at a node that had it
    await store([held.envelope])
    await store([held.envelope], [0])
    // `counted`: the sender says it gave C a copy, and C is the only peer B has closer to the key
    const shortC = sha(c.libp2p.peerId.toMultihash().bytes).subarray(0, 4).toString('hex')
    await store([near.envelope, unasked.envelope, counted.envelope], [0, 2], [[], [shortC]])
    // the marker goes to C after the others were decided: once C has it, they would have arrived
    await store([marker.envelope], [0])
    await until(() => holds(c, marker.key), 'C holds the marker')
    expect(await holds(b, near.key)).toBe(true)
    expect(await holds(b, unasked.key)).toBe(true)
    expect(await holds(c, near.key)).toBe(false)
    expect(await holds(c, unasked.key)).toBe(false)
    expect(await holds(b, counted.key)).toBe(true)
    expect(await holds(c, counted.key)).toBe(false)
    expect(await holds(b, held.key)).toBe(true)
    expect(await holds(c, held.key)).toBe(false)
  })

  it("keeps the sender's own record on its word, but the next hop checks the relayed copy, and fencing checks both sides", async () => {
    const badSignature = `${'A'.repeat(86)}==`
    // the sender signed it (Noise says so): B keeps it unchecked; C gets it from B and checks it
    const far = await recordWhere(closerToC)
    expect(await store([{ ...far.envelope, signature: badSignature }], [0])).toMatchObject({
      outcomes: ['stored'],
    })
    expect(await holds(b, far.key)).toBe(true)
    const marker = await recordWhere(closerToC)
    await store([marker.envelope], [0])
    await until(() => holds(c, marker.key), 'C holds the marker relayed after it')
    expect(await holds(c, far.key)).toBe(false)
    // a genuine record held: the sender's own rival with a bad signature loses the comparison
    const held = await recordWhere(closerToB)
    await store([held.envelope])
    const rival = {
      ...held.envelope,
      record: { ...held.envelope.record, output: 'forged' },
      signature: badSignature,
    }
    expect(await store([rival])).toMatchObject({ outcomes: ['superseded'] })
    const kept = await readStoredResult(b.datastore, held.key)
    expect(JSON.parse(Buffer.from(kept ?? new Uint8Array()).toString()).record.output).toBeNull()
  })

  it("keeps the sender's own record as its bytes came, and the relayed copy in the stored form of 9.3", async () => {
    const far = await recordWhere(closerToC)
    const canonical = Buffer.from(JSON.stringify(far.envelope))
    // a peer's encoder may space and order its JSON as it likes: its own value is kept as it sent it
    const { record, signature } = far.envelope
    const sent = `{ "signature" : "${signature}",\n  "record": ${JSON.stringify(record, null, 1)} }`
    const requestId = crypto.randomUUID()
    const encoded = Buffer.from(
      `{"requestId":"${requestId}", "records": [ ${sent} ],"relay":[0],"type":"store"}`,
    )
    const reply = await session.request({ type: 'store', requestId }, AbortSignal.timeout(10_000), {
      encoded,
    })
    expect(reply).toMatchObject({ outcomes: ['stored'] })
    expect(Buffer.from((await readStoredResult(b.datastore, far.key)) ?? []).toString()).toBe(sent)
    // B passes on what it keeps; C, not hearing it from its signer, writes the canonical form
    await until(() => holds(c, far.key), 'C holds the relayed record')
    expect(Buffer.from((await readStoredResult(c.datastore, far.key)) ?? []).equals(canonical)).toBe(true)
  })

  it('keeps a record whose output nests as deep as a record allows (the frame adds two levels)', async () => {
    let output: ResultRecord['output'] = 'deepest'
    for (let i = 0; i < MAX_OUTPUT_DEPTH; i++) output = [output]
    const deep = await recordWhere(closerToB, output)
    expect(await store([deep.envelope])).toMatchObject({ type: 'stored', outcomes: ['stored'] })
    expect(await holds(b, deep.key)).toBe(true)
  })

  it('a relay index past the records, or an ahead list of another length or with a malformed id, makes the frame malformed', async () => {
    const far = await recordWhere(closerToC)
    const frame = (relay: number[], ahead?: string[][]) =>
      decodeMessage(
        storeRequestSchema,
        new TextEncoder().encode(
          JSON.stringify({ type: 'store', requestId: 'r', records: [far.envelope], relay, ahead }),
        ),
        MAX_FRAME_BYTES,
        'store frame',
      )
    expect(frame([0]).relay).toEqual([0])
    expect(frame([0], [['0123abcd']]).ahead).toEqual([['0123abcd']])
    expect(() => frame([0], [[], []])).toThrow(/ahead has 2 entries for 1 relayed records/)
    expect(() => frame([0], [['not-hex!']])).toThrow(InvalidMessageError)
    expect(() => frame([1])).toThrow(/relay\.0.*past the 1 records|past the 1 records/)
    expect(() => frame([1])).toThrow(InvalidMessageError)
  })
})

import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { answerFetch, BatchLookup, type BatchLookupParts } from '../../../src/node/results/batch-lookup.ts'
import type { FetchReply, FetchRequest } from '../../../src/protocol/messages/fetch-messages.ts'
import { fetchReplySchema } from '../../../src/protocol/messages/fetch-messages.ts'
import { type ResultRecord, resultKey } from '../../../src/protocol/records/result-record.ts'
import { makeRecord, makeTask } from '../../protocol/fixtures.ts'

let peers: PeerId[] = []
beforeAll(async () => {
  peers = await Promise.all([1, 2, 3].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
})

const ids = Array.from({ length: 5 }, (_, i) => makeTask(i).id)
const text = (s: string) => new TextEncoder().encode(s)
const keyText = (key: Uint8Array) => new TextDecoder().decode(key)

/**
 * Parts over fake peers: each peer holds the values of `stores[i]` (task id → text), answers
 * `fetch` with {@link answerFetch} (or fails, for the peers in `failing`), and a value opens as a
 * record unless its text is `forged`.
 */
function parts(
  stores: Array<Record<string, string>>,
  opts: { failing?: number[]; known?: PeerId[] | undefined; budget?: number } = {},
) {
  const frames: Array<{ peer: number; ids: string[] }> = []
  const p: BatchLookupParts = {
    request: async (peer: PeerId, frame: FetchRequest): Promise<FetchReply> => {
      const i = peers.indexOf(peer)
      frames.push({ peer: i, ids: frame.ids })
      if (opts.failing?.includes(i)) throw new Error('stream reset')
      const store = stores[i]
      const reply = await answerFetch(
        frame,
        async (key) => {
          const id = keyText(key).split('/').pop() as string
          return store[id] === undefined ? undefined : text(store[id])
        },
        opts.budget,
      )
      return fetchReplySchema.parse(reply) // what the wire accepts
    },
    serving: async () => peers.slice(0, stores.length),
    known: () => ('known' in opts ? opts.known : peers.slice(0, stores.length)),
    open: (value: Uint8Array, key: Uint8Array): ResultRecord => {
      if (new TextDecoder().decode(value) === 'forged') throw new Error('bad signature')
      return makeRecord({ taskId: keyText(key).split('/').pop() as string })
    },
  }
  return { parts: p, frames }
}

describe('BatchLookup', () => {
  it('finds the records peers hold and settles the rest as having none, one frame per peer', async () => {
    const { parts: p, frames } = parts([{ [ids[1]]: 'r1' }, { [ids[3]]: 'r3' }])
    const out = await new BatchLookup(p).lookUp(ids)
    expect(out.get(ids[1])?.record.taskId).toBe(ids[1])
    expect(out.get(ids[3])?.record.taskId).toBe(ids[3])
    for (const i of [0, 2, 4]) expect(out.get(ids[i])).toBeNull()
    expect(frames.map((f) => f.peer).sort()).toEqual([0, 1])
    for (const f of frames) expect(f.ids).toEqual(ids)
  })

  it('picks with the selector among the different valid values peers hold, each checked once', async () => {
    const { parts: p } = parts([{ [ids[0]]: 'old' }, { [ids[0]]: 'new' }, { [ids[0]]: 'new' }])
    const opened: string[] = []
    const open = p.open
    p.open = (value, key) => {
      opened.push(new TextDecoder().decode(value))
      return open(value, key)
    }
    const seen: string[][] = []
    p.select = (_key, values) => {
      const texts = values.map((v) => new TextDecoder().decode(v))
      seen.push(texts)
      return texts.indexOf('new')
    }
    const out = await new BatchLookup(p).lookUp([ids[0]])
    expect(new TextDecoder().decode(out.get(ids[0])?.value)).toBe('new')
    expect(seen).toHaveLength(1)
    expect([...seen[0]].sort()).toEqual(['new', 'old'])
    expect(opened.sort()).toEqual(['new', 'old'])
  })

  it('counts the copy this node holds itself, beside what the peers answer', async () => {
    const { parts: p } = parts([{}, {}])
    p.local = async (key) => (keyText(key).endsWith(ids[4]) ? text('mine') : undefined)
    const out = await new BatchLookup(p).lookUp(ids)
    expect(new TextDecoder().decode(out.get(ids[4])?.value)).toBe('mine')
    expect(out.get(ids[0])).toBeNull()
    // without a peer to ask, the own copy still answers; nothing else is settled
    const alone = parts([]).parts
    alone.local = p.local
    const lone = await new BatchLookup(alone).lookUp(ids)
    expect([...lone.keys()]).toEqual([ids[4]])
  })

  it('leaves a task unanswered when a peer asked about it failed', async () => {
    const { parts: p } = parts([{ [ids[1]]: 'r1' }, {}], { failing: [1] })
    const out = await new BatchLookup(p).lookUp(ids)
    expect(out.get(ids[1])?.record.taskId).toBe(ids[1]) // found at the peer that answered
    expect(out.size).toBe(1) // the others: a DHT lookup decides
  })

  it('settles nothing when the routing table knows a closer peer that was not asked, or cannot tell', async () => {
    const closer = { parts: parts([{}, {}], { known: [peers[0], peers[2]] }).parts }
    expect((await new BatchLookup(closer.parts).lookUp(ids)).size).toBe(0)
    const blind = parts([{}, {}], { known: undefined }).parts
    expect((await new BatchLookup(blind).lookUp(ids)).size).toBe(0)
  })

  it('settles nothing without a peer to ask', async () => {
    const { parts: p, frames } = parts([])
    expect((await new BatchLookup(p).lookUp(ids)).size).toBe(0)
    expect(frames).toEqual([])
  })

  it('takes an invalid value for no answer from that peer', async () => {
    const { parts: p } = parts([{ [ids[2]]: 'forged' }, {}])
    const out = await new BatchLookup(p).lookUp(ids)
    expect(out.has(ids[2])).toBe(false)
    expect(out.get(ids[0])).toBeNull()
  })

  it('asks again for the ids a reply past its budget left out', async () => {
    const all = Object.fromEntries(ids.map((id) => [id, 'x'.repeat(300)]))
    const { parts: p, frames } = parts([all], { budget: 1_000 })
    const out = await new BatchLookup(p).lookUp(ids)
    for (const id of ids) expect(out.get(id)?.record.taskId).toBe(id)
    expect(frames.map((f) => f.ids.length)).toEqual([5, 3, 1]) // 400 base64 characters each: 2 per reply
  })
})

describe('answerFetch', () => {
  const frame = { type: 'fetch' as const, requestId: 'r', ids }

  it('answers every id, naming the held ones by index, with their stored bytes', async () => {
    const reply = await answerFetch(frame, async (key) =>
      keyText(key) === keyText(resultKey(ids[2])) ? text('{"v":1}') : undefined,
    )
    expect(reply).toEqual({
      type: 'fetched',
      requestId: 'r',
      upTo: 5,
      held: [{ index: 2, value: 'eyJ2IjoxfQ==' }],
    })
  })

  it('answers at least one id, however large its value', async () => {
    const reply = await answerFetch(frame, async () => text('y'.repeat(3_000)), 10)
    expect(reply).toMatchObject({ upTo: 1, held: [{ index: 0 }] })
  })

  it('takes a failed read for no record', async () => {
    const reply = await answerFetch(frame, async () => {
      throw new Error('disk')
    })
    expect(reply).toEqual({ type: 'fetched', requestId: 'r', upTo: 5, held: [] })
  })
})

describe('fetched reply schema', () => {
  it('refuses a held index at or past upTo', () => {
    const bad = { type: 'fetched', requestId: 'r', upTo: 1, held: [{ index: 1, value: 'eyJ2IjoxfQ==' }] }
    expect(() => fetchReplySchema.parse(bad)).toThrow(/held: an index at or past upTo/)
  })
})

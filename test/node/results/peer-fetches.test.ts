import { describe, expect, it } from 'vitest'
import { answerFetch } from '../../../src/node/results/batch-lookup.ts'
import { PeerFetches } from '../../../src/node/results/peer-fetches.ts'
import type { FetchReply, FetchRequest } from '../../../src/protocol/messages/fetch-messages.ts'
import { makeTask } from '../../protocol/fixtures.ts'

const ids = Array.from({ length: 6 }, (_, i) => makeTask(i).id)
const text = (s: string) => new TextEncoder().encode(s)
const decode = (v: Uint8Array | undefined) => (v === undefined ? undefined : new TextDecoder().decode(v))

/** Peers answering `fetch` from `stores` (peer → task id → value), recording each frame. */
function peers(stores: Record<string, Record<string, string>>, budget?: number) {
  const frames: Array<{ peer: string; ids: string[] }> = []
  const request = async (peer: string, frame: FetchRequest): Promise<FetchReply> => {
    frames.push({ peer, ids: frame.ids })
    const store = stores[peer]
    if (store === undefined) throw new Error(`${peer} does not serve the fetch protocol`)
    const read = async (key: Uint8Array) => {
      const v = store[new TextDecoder().decode(key).split('/').pop() as string]
      return v === undefined ? undefined : text(v)
    }
    return answerFetch(frame, read, budget)
  }
  return { request, frames }
}

describe('PeerFetches', () => {
  it('reads the records asked of one peer in one turn with one frame, each asker answered', async () => {
    const { request, frames } = peers({ x: { [ids[0]]: 'r0', [ids[2]]: 'r2' }, y: { [ids[1]]: 'r1' } })
    const fetches = new PeerFetches(request, async () => {
      throw new Error('no fallback expected')
    })
    const values = await Promise.all([
      fetches.valueAt('x', ids[0]),
      fetches.valueAt('x', ids[2]),
      fetches.valueAt('y', ids[1]),
      fetches.valueAt('x', ids[3]),
      fetches.valueAt('x', ids[0]),
    ])
    expect(values.map(decode)).toEqual(['r0', 'r2', 'r1', undefined, 'r0'])
    expect(frames).toEqual([
      { peer: 'x', ids: [ids[0], ids[2], ids[3]] },
      { peer: 'y', ids: [ids[1]] },
    ])
  })

  it('asks again for what a reply past its budget left out', async () => {
    const store = Object.fromEntries(ids.map((id) => [id, 'v'.repeat(300)]))
    const { request, frames } = peers({ x: store }, 500)
    const fetches = new PeerFetches(request, async () => undefined)
    const values = await Promise.all(ids.map((id) => fetches.valueAt('x', id)))
    expect(values.every((v) => decode(v) === 'v'.repeat(300))).toBe(true)
    expect(frames.map((f) => f.ids.length)).toEqual([6, 5, 4, 3, 2, 1])
  })

  it('reads each task by itself from a peer that does not answer fetch', async () => {
    const { request } = peers({})
    const asked: string[] = []
    const fetches = new PeerFetches(request, async (peer, id) => {
      asked.push(`${peer} ${id}`)
      return id === ids[1] ? text('old way') : undefined
    })
    const values = await Promise.all([fetches.valueAt('z', ids[0]), fetches.valueAt('z', ids[1])])
    expect(values.map(decode)).toEqual([undefined, 'old way'])
    expect(asked).toEqual([`z ${ids[0]}`, `z ${ids[1]}`])
  })
})

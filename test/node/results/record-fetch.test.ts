import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordFetch } from '../../../src/node/results/record-fetch.ts'
import { resultKey } from '../../../src/protocol/records/result-record.ts'
import { makeTask } from '../../protocol/fixtures.ts'
import {
  holds,
  type MeshMember,
  signedRecord,
  startMember,
  stopMember,
  WAIT_MS,
  waitFor,
} from './replicator-mesh.ts'

/** A mesh member that also serves (and asks over) the fetch protocol. */
interface Fetching extends MeshMember {
  fetch: ReturnType<typeof recordFetch>
}

async function startFetching(): Promise<Fetching> {
  const m = await startMember()
  const fetch = recordFetch(m.libp2p, m.results)
  await fetch.start()
  return { ...m, fetch }
}

async function connectAll(members: MeshMember[]): Promise<void> {
  for (let i = 0; i < members.length; i++) {
    await Promise.all(
      members.slice(i + 1).map((other) => members[i].libp2p.dial(other.libp2p.getMultiaddrs()[0])),
    )
  }
  await waitFor(
    () => members.every((m) => m.libp2p.services.dht.routingTable.size === members.length - 1),
    'every routing table holds every peer',
  )
}

describe('the fetch protocol between real nodes', () => {
  let members: Fetching[] = []
  let silent: MeshMember | undefined

  beforeAll(async () => {
    members = await Promise.all([1, 2, 3].map(() => startFetching()))
    await connectAll(members)
  }, WAIT_MS)

  afterAll(async () => {
    for (const m of members) await m.fetch.stop()
    await Promise.all([...members, ...(silent === undefined ? [] : [silent])].map(stopMember))
  })

  it('finds a stored record and settles tasks without one, in one lookup', async () => {
    const [a, b, c] = members
    const { record, key } = await signedRecord(a)
    await a.results.publish(record)
    await a.results.flush()
    await waitFor(() => a.replicator.unreplicated === 0, 'copies sent')
    expect(await holds(b, key)).toBe(true)

    const none = [makeTask(9_001).id, makeTask(9_002).id]
    const out = await c.fetch.lookup.lookUp([record.taskId, ...none])
    expect(out.get(record.taskId)?.record).toEqual(record)
    for (const id of none) expect(out.get(id)).toBeNull()
  })

  it('reads from a named peer what it holds in memory or its store', async () => {
    const [a, b, c] = members
    // a record b knows in memory only (taken from a completion, say), and one nobody holds
    const { record, value } = await signedRecord(c)
    b.results.accept(b.results.open(value, resultKey(record.taskId)), value)
    expect(await b.results.storedValue(resultKey(record.taskId))).toBeUndefined()
    const nobody = makeTask(9_003).id
    const [held, none] = await Promise.all([
      a.fetch.valueAt(b.libp2p.peerId.toString(), record.taskId),
      a.fetch.valueAt(b.libp2p.peerId.toString(), nobody),
    ])
    expect(held).toEqual(value)
    expect(none).toBeUndefined()
  })

  it('settles nothing while a closer peer the routing table knows does not serve the protocol', async () => {
    silent = await startMember() // a full DHT node without the fetch protocol
    await connectAll([...members, silent])
    const ids = Array.from({ length: 50 }, (_, i) => makeTask(9_100 + i).id)
    const out = await members[0].fetch.lookup.lookUp(ids)
    // every key has the silent node among its closest known peers (a mesh of 4: all of them)
    expect(out.size).toBe(0)
  })
})
